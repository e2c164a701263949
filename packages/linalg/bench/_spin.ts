import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { onnxMatrixProducts } from '@dfm/backbone';
import { PCAStatistics } from '../src/pca-statistics';
const [path, nT, dT, mode] = process.argv.slice(2); const n=+nT!, d=+dT!;
await tf.setBackend('wasm'); await tf.ready();
const all = new Float32Array(readFileSync(path!).buffer.slice(0));
const products = await onnxMatrixProducts();
if (mode === 'other') {
  const other = await onnxMatrixProducts();
  const a = new Float32Array(1024*1024).fill(1);
  for (let i=0;i<20;i++) await other.matMul({a,b:a,m:1024,k:1024,n:1024,transposeA:false,transposeB:false,precision:'float32'});
}
const s = new PCAStatistics({ label: 'b', products });
for (let i=0;i<n;i+=512){ const c=Math.min(512,n-i); await s.updateAsync(all.subarray(i*d,(i+c)*d), [c,d]); }
const t0 = performance.now();
const pca = await s.toPCAAsync({ nComponents: 0.97 });
console.log(mode, 'toPCA', (performance.now()-t0).toFixed(0), pca.numComponents);
