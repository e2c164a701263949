import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationMethod, Precision } from '@dfm/backbone';

/** One `dfm test --json` run in a child process, as the bench keeps it. */
export interface DfmTestRun {
  category: string;
  precision: Precision;
  /** int8: how the activation ranges were taken; null for fp32. */
  calibration: CalibrationMethod | null;
  /** The child process from start to exit (Node start, imports, fit, test, result files, exit). */
  wallSeconds: number;
  /** The child's own `timing.total_s` (from the start of its `main()`). */
  totalSeconds: number;
  /** The child's `timing.stages` (seconds; startup_s, train_s, validate_s, fit_other_s, test_s, test_files_s, …). */
  stages: Record<string, number>;
  imageAUROC: number;
  /** null when the dataset has no masks (the bottle copy). */
  pixelAUROC: number | null;
  testImages: number;
}

export interface DfmTestChildOptions {
  /** The dfm entry point (a built `bin.js`). */
  bin: string;
  /** Folder holding the category folders. */
  dataRoot: string;
  category: string;
  weights: string;
  precision: Precision;
  calibration?: CalibrationMethod;
  resultsDir: string;
}

/**
 * The `dfm` entry point for child runs: this process's own when it is the built CLI (`dfm bench`),
 * else `packages/cli/dist/bin.js` of the workspace (the bench run from source with tsx).
 */
export function dfmEntryPoint(root: string | undefined, argv1: string | undefined = process.argv[1]): string | undefined {
  if (argv1 !== undefined && !argv1.endsWith('.ts')) return argv1;
  const built = root === undefined ? undefined : join(root, 'packages', 'cli', 'dist', 'bin.js');
  return built !== undefined && existsSync(built) ? built : undefined;
}

/** The arguments after `dfm`: the recipe of the bench (resnet18 → layer3, onnxruntime, the CLI's defaults otherwise). */
export function dfmTestArgs(options: Omit<DfmTestChildOptions, 'bin'>): string[] {
  const { dataRoot, category, weights, precision, calibration, resultsDir } = options;
  return [
    'test',
    '--data',
    dataRoot,
    '--category',
    category,
    '--backbone',
    'resnet18',
    '--layer',
    'layer3',
    '--weights',
    weights,
    '--runtime',
    'onnxruntime',
    ...(precision === 'int8' ? ['--precision', 'int8', '--calibration', calibration ?? 'minmax'] : []),
    '--json',
    '--results-dir',
    resultsDir,
  ];
}

/** The line of a failed child's output that says why: its error line (not the stack or Node's version line after it). */
export function failureLine(stderr: string | null, stdout: string | null): string {
  const lines = `${stderr ?? ''}\n${stdout ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^dfm\b.*error|^\w*Error\b|"error"/.test(l)) ?? lines.find((l) => !l.startsWith('at ') && !l.startsWith('Node.js v')) ?? 'no output';
}

/**
 * Runs `dfm test --json` in a child process and times it from start to exit.
 *
 * @returns the run and the image scores by path, or a one-line reason it failed
 */
export function runDfmTestChild(options: DfmTestChildOptions): { run: DfmTestRun; scores: Map<string, number> } | string {
  const { bin, category, precision, calibration } = options;
  const started = performance.now();
  const child = spawnSync(process.execPath, [bin, ...dfmTestArgs(options)], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 256 * 2 ** 20,
    timeout: 20 * 60_000,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (child.error || child.status !== 0) return `dfm test (${category}, ${precision}) failed: ${child.error?.message ?? `exit ${child.status}: ${failureLine(child.stderr, child.stdout)}`}`;
  let doc: {
    metrics: Record<string, number>;
    timing: { total_s: number; stages: Record<string, number> };
    predictions: { path: string; predScore: number }[];
  };
  try {
    doc = JSON.parse(child.stdout);
  } catch (error) {
    return `dfm test (${category}, ${precision}) printed no JSON document: ${(error as Error).message}`;
  }
  const imageAUROC = doc.metrics.image_AUROC;
  if (typeof imageAUROC !== 'number') return `dfm test (${category}, ${precision}) reported no image_AUROC (metrics: ${Object.keys(doc.metrics).join(', ')})`;
  const pixel = doc.metrics.pixel_AUROC;
  return {
    run: {
      category,
      precision,
      calibration: precision === 'int8' ? (calibration ?? 'minmax') : null,
      wallSeconds,
      totalSeconds: doc.timing.total_s,
      stages: doc.timing.stages,
      imageAUROC,
      pixelAUROC: typeof pixel === 'number' && Number.isFinite(pixel) ? pixel : null,
      testImages: doc.predictions.length,
    },
    scores: new Map(doc.predictions.map((p) => [p.path, p.predScore])),
  };
}
