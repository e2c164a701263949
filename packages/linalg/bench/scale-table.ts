/**
 * The scale table of `pnpm --filter @dfm/linalg bench` (issue 17): PCA fit time and peak RSS from N = 1k to 20k
 * rows, ours beside numpy's eigh route and numpy's SVD (anomalib's route), measured in the same run.
 *
 * Sizes: `DFM_BENCH_SIZES` = a comma list of `NxD` (default {@link DEFAULT_SIZES}: the whole table takes about
 * half an hour on 2 cores), or `none` to skip. Every cell runs in a fresh process (peak RSS is its own); the
 * short ones (up to 2000 × 4096) run five rounds, ours and numpy's eigh route alternating, and report medians:
 * bench/scale-data.py writes the synthetic features once per size (see its docstring for the spectrum),
 * bench/scale-child.ts runs ours (`statistics`: rows streamed from the file into PCAStatistics, then toPCA;
 * `fit`: one [N, D] tensor, PCA.fit; products on onnxruntime-node, or tfjs-wasm with `DFM_BENCH_PRODUCTS=tfjs`),
 * bench/scale-reference.py runs numpy. Accuracy columns compare ours with
 * numpy's eigh route on the same run: k (sklearn's rule at 0.97) and the largest relative FRE difference
 * over 1000 held-out query rows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_SIZES: [number, number][] = [
  [1000, 4096],
  [2000, 4096],
  [4000, 4096],
  [8000, 4096],
  [20000, 4096],
  [2000, 16384],
  [20000, 16384],
];

/** numpy's SVD of the centred data is skipped where it costs tens of TFLOP (over an hour on this machine). */
const SVD_SKIPPED = (n: number, d: number) => Math.min(n, d) >= 16384;

/**
 * Cells of at most this many input values (N × D: the 1000 and 2000 × 4096 rows) run {@link SHORT_CELL_ROUNDS}
 * rounds; larger ones take seconds to minutes each and run once.
 */
const SHORT_CELL = 2000 * 4096;
const SHORT_CELL_ROUNDS = 5;

/**
 * The sample of median time (its k, FRE and RSS with it; the peak RSS reported is the largest of all rounds,
 * so a round's larger peak is never hidden).
 */
function medianCell(cells: Cell[]): Cell | undefined {
  if (cells.length === 0) return undefined;
  const sorted = [...cells].sort((a, b) => a.ms - b.ms);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const peak = cells.reduce((largest, cell) => (cell.peakRssKiB > largest.peakRssKiB ? cell : largest));
  return { ...median, peakRssKiB: peak.peakRssKiB, inputRssKiB: peak.inputRssKiB };
}

type Cell = { ms: number; k: number; fre?: number[]; inputRssKiB: number; peakRssKiB: number };
type Row = { n: number; d: number; statistics?: Cell; fit?: Cell; eigh?: Cell; svd?: Cell; notes: string[] };

function parseSizes(text: string | undefined): [number, number][] {
  if (text === undefined || text.trim() === '') return DEFAULT_SIZES;
  if (text.trim() === 'none') return [];
  return text.split(',').map((entry) => {
    const match = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(entry);
    if (match === null) throw new Error(`DFM_BENCH_SIZES: expected entries like 2000x4096 — got "${entry}".`);
    return [Number(match[1]), Number(match[2])];
  });
}

function run(command: string, args: string[]): { cell?: Cell; error?: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) return { error: (result.stderr || String(result.signal)).trim().split('\n').slice(-3).join(' ') };
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return { cell: JSON.parse(line) as Cell };
}

const seconds = (cell: Cell | undefined) => (cell === undefined ? '—' : (cell.ms / 1000).toFixed(cell.ms < 10000 ? 2 : 1));
const gib = (kib: number) => (kib / 1024 / 1024).toFixed(2);
/** Peak RSS and, in brackets, peak minus the RSS once the input was in memory (for `statistics`: before any row). */
const rss = (cell: Cell | undefined) => (cell === undefined ? '—' : `${gib(cell.peakRssKiB)} (+${gib(cell.peakRssKiB - cell.inputRssKiB)})`);

export function runScaleTable(python: string): string {
  const sizes = parseSizes(process.env.DFM_BENCH_SIZES);
  if (sizes.length === 0) return 'Scale table skipped (DFM_BENCH_SIZES=none).';
  if (!existsSync(python)) return `Scale table skipped: ${python} not found (set DFM_PYTHON).`;
  const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
  const folder = join(tmpdir(), `dfm-bench-scale-${process.pid}`);
  mkdirSync(folder, { recursive: true });
  const rows: Row[] = [];
  try {
    for (const [n, d] of sizes) {
      const row: Row = { n, d, notes: [] };
      rows.push(row);
      const train = join(folder, 'train.f32');
      const queries = join(folder, 'queries.f32');
      const made = spawnSync(python, [here('./scale-data.py'), String(n), String(d), train, queries], { encoding: 'utf8' });
      if (made.status !== 0) {
        row.notes.push(`data: ${made.stderr.trim().split('\n').pop()}`);
        continue;
      }
      const args = [train, String(n), String(d), queries];
      // Short cells run several rounds, ours and numpy's eigh route alternating, and report each one's median:
      // one sample of a half-second cell moves by ±20% with the host here, more than the ratios it is read for.
      const rounds = n * d <= SHORT_CELL ? SHORT_CELL_ROUNDS : 1;
      const samples: Record<'statistics' | 'fit' | 'eigh', Cell[]> = { statistics: [], fit: [], eigh: [] };
      for (let round = 0; round < rounds; round++) {
        for (const mode of ['statistics', 'fit'] as const) {
          const { cell, error } = run(process.execPath, [...process.execArgv, '--expose-gc', here('./scale-child.ts'), mode, ...args]);
          if (cell !== undefined) samples[mode].push(cell);
          else row.notes.push(`${mode}: ${error}`);
          process.stderr.write(`scale ${n}x${d} ours/${mode}: ${seconds(cell)} s\n`);
        }
        const { cell, error } = run(python, [here('./scale-reference.py'), 'eigh', ...args]);
        if (cell !== undefined) samples.eigh.push(cell);
        else row.notes.push(`numpy eigh: ${error}`);
        process.stderr.write(`scale ${n}x${d} numpy/eigh: ${seconds(cell)} s\n`);
      }
      for (const key of ['statistics', 'fit', 'eigh'] as const) {
        const median = medianCell(samples[key]);
        if (median !== undefined) row[key] = median;
      }
      if (rounds > 1) {
        const spread = (cells: Cell[]) => cells.map((cell) => (cell.ms / 1000).toFixed(2)).join(', ');
        row.notes.push(`median of ${rounds} rounds (s): statistics ${spread(samples.statistics)}; fit ${spread(samples.fit)}; numpy eigh ${spread(samples.eigh)}`);
      }
      if (SVD_SKIPPED(n, d)) {
        row.notes.push('numpy SVD not run (tens of TFLOP: over an hour here)');
      } else {
        const { cell, error } = run(python, [here('./scale-reference.py'), 'svd', ...args]);
        if (cell !== undefined) row.svd = cell;
        else row.notes.push(`numpy svd: ${error}`);
        process.stderr.write(`scale ${n}x${d} numpy/svd: ${seconds(cell)} s\n`);
      }
      rmSync(train, { force: true });
      rmSync(queries, { force: true });
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const header =
    '| N × D | k ours / numpy | FRE max rel. diff | ours: statistics s | ours: PCA.fit s | numpy eigh route s | statistics / eigh | fit / eigh | numpy SVD s | peak RSS GiB: statistics | PCA.fit | numpy eigh | notes |';
  const lines = [header, `|${'---|'.repeat(13)}`];
  for (const row of rows) {
    const reference = row.eigh;
    const freDiff = (cell: Cell | undefined) => {
      if (cell?.fre === undefined || reference?.fre === undefined) return '—';
      let largest = 0;
      cell.fre.forEach((value, i) => {
        largest = Math.max(largest, Math.abs(value - reference.fre![i]!) / Math.abs(reference.fre![i]!));
      });
      return largest.toExponential(1);
    };
    const ratio = (cell: Cell | undefined) => (cell === undefined || reference === undefined ? '—' : `${(cell.ms / reference.ms).toFixed(2)}×`);
    const ks = [row.statistics?.k, row.fit?.k].filter((k) => k !== undefined);
    lines.push(
      `| ${row.n} × ${row.d} | ${ks.length === 0 ? '—' : [...new Set(ks)].join('/')} / ${reference?.k ?? '—'} | ${[freDiff(row.statistics), freDiff(row.fit)].join(' / ')} | ${seconds(row.statistics)} | ${seconds(row.fit)} | ${seconds(reference)} | ${ratio(row.statistics)} | ${ratio(row.fit)} | ${seconds(row.svd)} | ${rss(row.statistics)} | ${rss(row.fit)} | ${rss(reference)} | ${row.notes.join('; ')} |`,
    );
  }
  lines.push(
    '',
    `Ours: products on ${process.env.DFM_BENCH_PRODUCTS === 'tfjs' ? 'the tfjs-wasm backend (update / toPCA / fit, float32 products)' : "onnxruntime-node (onnxMatrixProducts(): updateAsync / toPCAAsync / fitAsync; the eigensolver's products in float64)"}. ` +
      'Rows up to 2000 × 4096: the median of five rounds, ours and numpy’s eigh route alternating (every sample in the notes; peak RSS: the largest round’s). Seconds of PCA work only (statistics: every update, each batch handed over with { transfer: true }, + toPCA; fit: PCA.fit on a [N, D] tensor; numpy: from the float32 rows in memory to the components). Peak RSS of each process, and in brackets the part beyond the RSS once the input was loaded (statistics: the rows stream from the file in batches of 512, so the bracket is everything; fit: on Linux the peak is reset once the [N, D] tensor is made and the file’s rows are collected, so it is the fit’s with its input in memory, not the loading’s). FRE diff: statistics / fit against numpy eigh, 1000 held-out rows. Ratios < 1: ours is faster.',
  );
  return lines.join('\n');
}
