/**
 * `pnpm --filter @dfm/linalg bench`: PCA fit and scoring times on the active tfjs backend (wasm), beside
 * numpy's time for the same work measured in the same run (bench/reference.py, run with /usr/bin/python3),
 * then the scale table (bench/scale-table.ts: N = 1k…20k, D = 4096 and 16384, with peak RSS).
 * `DFM_BENCH_SIZES=1000x4096,2000x16384` runs only those rows of the scale table (and skips the small table);
 * `DFM_BENCH_SIZES=none` skips the scale table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { PCA } from '../src/pca';
import { SingleClassGaussian } from '../src/single-class-gaussian';
import { dfmFeatures } from '../test/dfm-features';
import { runScaleTable } from './scale-table';

const SHAPES: [number, number][] = [
  [200, 16384],
  [400, 16384],
  [1000, 4096],
];
const REPEATS = 2;
const LEVEL = 0.97;

function bestOf(repeats: number, run: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

type Reference = {
  numpy: string;
  torch: string | null;
  anomalibRoute: string;
  fit: { shape: [number, number]; numpyEighMs: number; anomalibSvdMs: number }[];
  score: { freMs: number; nllMs: number; k: number };
};

function runReference(): Reference | string {
  const python = process.env.DFM_PYTHON ?? '/usr/bin/python3';
  if (!existsSync(python)) return `skipped: ${python} not found (set DFM_PYTHON)`;
  const script = fileURLToPath(new URL('./reference.py', import.meta.url));
  const result = spawnSync(python, [script, JSON.stringify(SHAPES), String(REPEATS)], { encoding: 'utf8' });
  if (result.status !== 0) {
    const reason = /No module named 'numpy'/.test(result.stderr) ? 'numpy is not installed' : result.stderr.trim().split('\n').pop();
    return `skipped: ${reason}`;
  }
  return JSON.parse(result.stdout) as Reference;
}

function format(ms: number | undefined): string {
  return ms === undefined ? '—' : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

function ratio(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? '—' : `${(theirs / ours).toFixed(2)}×`;
}

async function main(): Promise<void> {
  if (process.env.DFM_BENCH_SIZES !== undefined && process.env.DFM_BENCH_SIZES.trim() !== 'none') {
    // Only the scale table was asked for.
    process.stdout.write(`${runScaleTable(process.env.DFM_PYTHON ?? '/usr/bin/python3')}\n`);
    return;
  }
  await tf.setBackend('wasm');
  await tf.ready();
  const rows: { work: string; ours: number; numpy?: number; anomalib?: number }[] = [];
  let lastModel: { pca: PCA; train: tf.Tensor2D } | undefined;
  for (const [n, d] of SHAPES) {
    const train = tf.tensor2d(dfmFeatures(11, n, d), [n, d]);
    const pca = new PCA({ nComponents: LEVEL });
    const ms = bestOf(REPEATS, () => pca.fit(train));
    rows.push({ work: `PCA fit [${n}, ${d}] (k=${pca.numComponents})`, ours: ms });
    if (lastModel !== undefined) {
      lastModel.pca.dispose();
      lastModel.train.dispose();
    }
    lastModel = { pca, train };
  }
  const { pca, train } = lastModel!;
  const d = SHAPES[SHAPES.length - 1]![1];
  const queries = tf.tensor2d(dfmFeatures(12, 1000, d), [1000, d]);
  const freMs = bestOf(5, () => tf.tidy(() => tf.sum(tf.square(pca.residual(queries)), 1).dataSync()));
  const zTrain = pca.transform(train);
  const zQueries = pca.transform(queries);
  const gaussian = new SingleClassGaussian().fit(zTrain);
  const nllMs = bestOf(5, () => tf.tidy(() => gaussian.scoreSamples(zQueries).dataSync()));
  rows.push({ work: `FRE of 1000 × ${d} (k=${pca.numComponents})`, ours: freMs });
  rows.push({ work: `NLL of 1000 × ${pca.numComponents}`, ours: nllMs });

  const reference = runReference();
  if (typeof reference !== 'string') {
    reference.fit.forEach((entry, i) => {
      rows[i]!.numpy = entry.numpyEighMs;
      rows[i]!.anomalib = entry.anomalibSvdMs;
    });
    rows[SHAPES.length]!.numpy = reference.score.freMs;
    rows[SHAPES.length + 1]!.numpy = reference.score.nllMs;
  }

  const header = ['work (float32 DFM-like data, level 0.97)', '@dfm/linalg (wasm)', 'numpy eigh route', 'ratio', 'anomalib route', 'ratio'];
  const table = rows.map((row) => [
    row.work,
    format(row.ours),
    format(row.numpy),
    ratio(row.ours, row.numpy),
    format(row.anomalib),
    ratio(row.ours, row.anomalib),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.map(line)];
  if (typeof reference === 'string') out.push(`Python reference ${reference}.`);
  else {
    out.push(
      `ratio = their time / ours (> 1: @dfm/linalg is faster). numpy ${reference.numpy}; anomalib route = ${reference.anomalibRoute} of the centred data${reference.torch ? ` (torch ${reference.torch})` : ''}. Best of ${REPEATS} (fit) / 5 (score).`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  tf.dispose([queries, zTrain, zQueries]);
  if (process.env.DFM_BENCH_SIZES?.trim() !== 'none') process.stdout.write(`\n${runScaleTable(process.env.DFM_PYTHON ?? '/usr/bin/python3')}\n`);
  gaussian.dispose();
  pca.dispose();
  train.dispose();
}

await main();
