// The page's app for the real-browser test (test/browser/chromium.e2e.ts), bundled by esbuild for the browser
// from the sources: the dense eigensolver and a PCA fit on its Gram route, run in the page. It exposes one
// function, window.dfmLinalgRun, that the test calls through Playwright.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { DenseSymmetricSolver, denseKernelsAvailable } from '../../src/dense-eigen';
import { PCA } from '../../src/pca';
import { knownSpectrumMatrix, pcaLikeRows } from './inputs';

/** Float32Array / Float64Array → base64 of its bytes (exact, and cheap to pass back to Node). */
function toBase64(data: Float32Array | Float64Array): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export type PageRequest = { solver: { n: number; count: number; seed: number }; pca: { n: number; d: number; seed: number; level: number } };

async function run(request: PageRequest) {
  await tf.setBackend('cpu');
  await tf.ready();
  const { n, count, seed } = request.solver;
  const { matrix, values: known } = knownSpectrumMatrix(n, seed);
  const solver = new DenseSymmetricSolver(n);
  const threads = solver.threads;
  solver.matrix.set(matrix);
  const started = performance.now();
  const result = solver.solve();
  const vectors = result.vectors(count);
  const solveMs = performance.now() - started;
  const rows = pcaLikeRows(request.pca.n, request.pca.d, request.pca.seed);
  const x = tf.tensor2d(rows, [request.pca.n, request.pca.d]);
  const fitStarted = performance.now();
  const pca = new PCA({ nComponents: request.pca.level }).fit(x);
  const fitMs = performance.now() - fitStarted;
  const components = pca.components.dataSync() as Float32Array;
  const out = {
    kernels: denseKernelsAvailable(),
    threads,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    values: toBase64(result.values),
    known: toBase64(Float64Array.from(known)),
    vectors: toBase64(vectors),
    solveMs,
    k: pca.numComponents,
    singularValues: toBase64(pca.singularValues),
    components: toBase64(components),
    fitMs,
  };
  x.dispose();
  pca.dispose();
  return out;
}

(globalThis as { dfmLinalgRun?: typeof run }).dfmLinalgRun = run;
