/**
 * One cell of the scale table (bench/pca.bench.ts runs it in a fresh process per size so peak RSS is its own):
 * `tsx bench/scale-child.ts <statistics|fit> train.f32 N D queries.f32` prints one JSON line:
 * `{ ms, k, fre, inputRssKiB, peakRssKiB }`. `statistics`: the rows stream from the file in batches of 512
 * into PCAStatistics (each batch handed over: `{ transfer: true }`), then toPCA (memory O(D²), no [N, D] bank). `fit`: the rows are read into one [N, D] tensor,
 * then PCA.fit. `ms` covers the PCA work only (update + toPCA, or fit), not the file reading.
 * Products: onnxruntime-node (`onnxMatrixProducts()` from @dfm/backbone: updateAsync / toPCAAsync / fitAsync),
 * or, with `DFM_BENCH_PRODUCTS=tfjs`, the synchronous tfjs-wasm path (update / toPCA / fit).
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { onnxMatrixProducts } from '@dfm/backbone';
import { PCA } from '../src/pca';
import { PCAStatistics } from '../src/pca-statistics';
import type { MatrixProducts } from '../src/products';

const LEVEL = 0.97;
const BATCH = 512;

function readRows(path: string, start: number, count: number, d: number, fd?: number): Float32Array {
  const out = new Float32Array(count * d);
  const bytes = new Uint8Array(out.buffer);
  const handle = fd ?? openSync(path, 'r');
  let done = 0;
  while (done < bytes.length) {
    const read = readSync(handle, bytes, done, Math.min(bytes.length - done, 1 << 30), start * d * 4 + done);
    if (read === 0) throw new Error(`${path}: short read`);
    done += read;
  }
  if (fd === undefined) closeSync(handle);
  return out;
}

/**
 * The process's peak RSS in KiB: Linux's VmHWM (which {@link resetPeakRss} can reset, so the fit's peak is not
 * the input loading's), elsewhere getrusage's maxRSS.
 */
function peakRssKiB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match !== null) return Number(match[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

/** Resets the peak to the current RSS (Linux: `5` to /proc/self/clear_refs); a no-op elsewhere. */
function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux: the peak then includes the input's loading
  }
}

async function main(): Promise<void> {
  const [mode, trainPath, nText, dText, queriesPath] = process.argv.slice(2);
  const n = Number(nText);
  const d = Number(dText);
  await tf.setBackend('wasm');
  await tf.ready();
  const products: MatrixProducts | undefined = process.env.DFM_BENCH_PRODUCTS === 'tfjs' ? undefined : await onnxMatrixProducts();
  let pca: PCA;
  let ms = 0;
  let inputRssKiB = 0;
  if (mode === 'statistics') {
    inputRssKiB = peakRssKiB();
    const statistics = new PCAStatistics({ label: 'bench', ...(products === undefined ? {} : { products }) });
    const fd = openSync(trainPath!, 'r');
    for (let start = 0; start < n; start += BATCH) {
      const count = Math.min(BATCH, n - start);
      const rows = readRows(trainPath!, start, count, d, fd);
      const t0 = performance.now();
      // Each batch is a fresh array nobody else holds: handed over, as a streaming caller would.
      if (products === undefined) statistics.update(rows, [count, d], { transfer: true });
      else await statistics.updateAsync(rows, [count, d], { transfer: true });
      ms += performance.now() - t0;
    }
    closeSync(fd);
    const t0 = performance.now();
    pca = products === undefined ? statistics.toPCA({ nComponents: LEVEL }) : await statistics.toPCAAsync({ nComponents: LEVEL });
    ms += performance.now() - t0;
  } else {
    // The input is the tensor alone: the rows read from the file are dropped (and collected, with --expose-gc,
    // which scale-table passes) before the fit, as a caller's would be.
    let rows: Float32Array | null = readRows(trainPath!, 0, n, d);
    const x = tf.tensor2d(rows, [n, d]);
    rows = null;
    (globalThis as { gc?: () => void }).gc?.();
    resetPeakRss();
    inputRssKiB = peakRssKiB();
    const t0 = performance.now();
    pca = products === undefined ? new PCA({ nComponents: LEVEL }).fit(x) : await new PCA({ nComponents: LEVEL }).fitAsync(x, { products });
    ms = performance.now() - t0;
    x.dispose();
  }
  const peakKiB = peakRssKiB();
  const queries = tf.tensor2d(readRows(queriesPath!, 0, 1000, d), [1000, d]);
  const fre = tf.tidy(() => tf.sum(tf.square(pca.residual(queries)), 1).dataSync());
  process.stdout.write(`${JSON.stringify({ ms, k: pca.numComponents, fre: Array.from(fre), inputRssKiB, peakRssKiB: peakKiB })}\n`);
}

await main();
