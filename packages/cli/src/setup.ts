import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BackboneName, type LayerName, type SetBackendResult, setBackend } from '@dfm/backbone';
import { type AnomalyDataset, Folder, MVTecAD } from '@dfm/data';
import type { Dfm, DfmOptions } from '@dfm/lightning-like';
import { PreProcessor } from '@dfm/lightning-like';
import { UsageError } from './errors';
import { type Io, log } from './io';
import type { CliOptions, CommandName } from './options';
import { type NamedPath, realPath, refuseOutputOverInputs } from './output-paths';

/** What every command is handed. */
export interface CommandContext {
  command: CommandName;
  io: Io;
  options: CliOptions;
  /** Options set by a flag or the config file (the rest are defaults). */
  explicit: Set<keyof CliOptions>;
  /** Warnings so far (config file, Engine), repeated in the `--json` document. */
  warnings: string[];
  /** `performance.now()` when the command started. */
  started: number;
}

function requireDir(command: CommandName, flag: string, dir: string, fix: string): string {
  const path = resolve(dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new UsageError(`dfm ${command}: ${flag} ${dir} is not a folder (looked at ${path}). ${fix}`);
  }
  return path;
}

/** The dataset the options describe; folders are checked first so a typo gives a one-line fix. */
export function buildDataset(ctx: CommandContext): AnomalyDataset {
  const { options: o, command } = ctx;
  const format = o.format ?? (o.normalDir !== undefined ? 'folder' : 'mvtec');
  const split = {
    ...(o.testSplitMode !== undefined ? { testSplitMode: o.testSplitMode } : {}),
    ...(o.testSplitRatio !== undefined ? { testSplitRatio: o.testSplitRatio } : {}),
    ...(o.valSplitMode !== undefined ? { valSplitMode: o.valSplitMode } : {}),
    ...(o.valSplitRatio !== undefined ? { valSplitRatio: o.valSplitRatio } : {}),
    seed: o.seed,
  };
  if (format === 'mvtec') {
    if (o.data === undefined || o.category === undefined) {
      throw new UsageError(
        `dfm ${command}: needs --data DIR and --category NAME (MVTec layout DIR/NAME/train/good), or --normal-dir DIR for your own images. Example: dfm ${command} --data datasets/MVTec --category bottle.`,
      );
    }
    const root = requireDir(command, '--data', o.data, 'Point --data at the folder that holds the category folders (MVTec AD: https://www.mvtec.com/company/research/datasets/mvtec-ad).');
    if (!existsSync(join(root, o.category))) {
      const categories = readdirSync(root).filter((name) => existsSync(join(root, name, 'train')));
      throw new UsageError(
        `dfm ${command}: --category ${o.category} is not a folder in ${root}. ${categories.length > 0 ? `Categories there: ${categories.join(', ')}.` : 'That folder holds no <category>/train folders.'}`,
      );
    }
    return new MVTecAD({ root, category: o.category, ...split });
  }
  if (o.normalDir === undefined) {
    throw new UsageError(`dfm ${command}: --format folder needs --normal-dir DIR (normal images) — got none. Add --normal-dir DIR, and --abnormal-dir DIR (anomalous images) to test and fit thresholds.`);
  }
  const base = o.data !== undefined ? requireDir(command, '--data', o.data, 'With --format folder, --data is the folder the other folders are relative to.') : process.cwd();
  const dirs = { normalDir: o.normalDir, abnormalDir: o.abnormalDir, normalTestDir: o.normalTestDir, maskDir: o.maskDir };
  for (const [key, dir] of Object.entries(dirs)) {
    if (dir !== undefined) requireDir(command, `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, resolve(base, dir), 'Check the path.');
  }
  return new Folder({
    root: base,
    normalDir: o.normalDir,
    ...(o.abnormalDir !== undefined ? { abnormalDir: o.abnormalDir } : {}),
    ...(o.normalTestDir !== undefined ? { normalTestDir: o.normalTestDir } : {}),
    ...(o.maskDir !== undefined ? { maskDir: o.maskDir } : {}),
    ...(o.normalSplitRatio !== undefined ? { normalSplitRatio: o.normalSplitRatio } : {}),
    ...(o.category !== undefined ? { name: o.category } : {}),
    ...split,
  });
}

/** The data folders the options name (absolute), each with its flag: nothing is ever written inside them. */
export function dataFolders(o: CliOptions): NamedPath[] {
  const format = o.format ?? (o.normalDir !== undefined ? 'folder' : 'mvtec');
  const folders: NamedPath[] = [];
  if (o.data !== undefined) folders.push({ flag: '--data', path: o.data });
  if (format === 'folder') {
    const base = o.data !== undefined ? resolve(o.data) : process.cwd();
    const named: [string, string | undefined][] = [
      ['--normal-dir', o.normalDir],
      ['--abnormal-dir', o.abnormalDir],
      ['--normal-test-dir', o.normalTestDir],
      ['--mask-dir', o.maskDir],
    ];
    for (const [flag, dir] of named) if (dir !== undefined) folders.push({ flag, path: resolve(base, dir) });
  }
  return folders;
}

/**
 * Refuses (exit 2) a `--results-dir` that is or lies inside a data folder, and a data folder inside
 * the run folders `<results-dir>/dfm/<dataset>/<category>/`: results never mix with the inputs.
 */
export function checkResultsDir(ctx: CommandContext, dataset: AnomalyDataset): void {
  const o = ctx.options;
  const folders = dataFolders(o);
  refuseOutputOverInputs(ctx.command, { flag: '--results-dir', path: o.resultsDir }, folders, {
    containing: [],
    fix: 'Pick a results folder outside the dataset, e.g. --results-dir results.',
  });
  refuseOutputOverInputs(ctx.command, { flag: '--results-dir', path: join(o.resultsDir, 'dfm', dataset.name, dataset.category) }, [], {
    containing: folders,
    fix: 'Move the data out of the results folder, or pick another --results-dir.',
  });
}

/**
 * `dfm train --out FILE`: a new file outside the data folders. An existing file is replaced only
 * with `--overwrite`; a folder never.
 */
export function checkModelOut(ctx: CommandContext): string | undefined {
  const o = ctx.options;
  if (o.out === undefined) return undefined;
  const out = resolve(o.out);
  const where = realPath(out) === o.out ? o.out : `${o.out} (${realPath(out)})`;
  refuseOutputOverInputs(ctx.command, { flag: '--out', path: o.out }, dataFolders(o), {
    fix: 'Write the model outside the dataset, e.g. --out models/model.dfm.',
  });
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new UsageError(`dfm train: --out must be the model file to write — got the folder ${where}. Pass a file path, e.g. --out ${join(o.out, 'model.dfm')}.`, {
      code: 'E_OUTPUT_EXISTS',
    });
  }
  if (existsSync(out) && !o.overwrite) {
    throw new UsageError(`dfm train: --out must be a new file — ${where} already exists. Pass another path, or --overwrite to replace it.`, {
      code: 'E_OUTPUT_EXISTS',
    });
  }
  return out;
}

/** A local weights path that does not exist is a user error before any model work. */
export function checkWeights(command: CommandName, weights: string | null): void {
  if (weights === null || /^https?:\/\//.test(weights) || weights === 'imagenet') return;
  const looksLikePath = /\.safetensors$/i.test(weights) || weights.startsWith('.') || weights.startsWith('/') || weights.includes('\\');
  if (looksLikePath && !existsSync(weights)) {
    throw new UsageError(
      `dfm ${command}: --weights ${weights} does not exist (looked at ${resolve(weights)}). Pass a .safetensors file, or --weights imagenet to download torchvision's ImageNet weights once.`,
    );
  }
  if (looksLikePath && statSync(weights).isDirectory()) {
    throw new UsageError(`dfm ${command}: --weights ${weights} is a folder. Pass the .safetensors file inside it.`);
  }
}

/** The `Dfm` options of the CLI options. */
export function dfmOptions(o: CliOptions): DfmOptions {
  const options: DfmOptions = {
    backbone: o.backbone as BackboneName,
    layer: o.layer as LayerName,
    poolingKernelSize: o.poolingKernelSize,
    pcaLevel: o.pcaLevel,
    scoreType: o.scoreType,
    preTrained: o.weights !== null,
    weights: o.weights,
    seed: o.seed,
    preProcessor: new PreProcessor({ imageSize: o.imageSize }),
  };
  if (o.runtime !== 'auto') options.runtime = o.runtime;
  if (o.precision === 'int8') {
    options.precision = 'int8';
    options.calibrationMethod = o.calibration;
  }
  return options;
}

/** Selects the tfjs backend and says which on stderr with --verbose. */
export async function selectBackend(ctx: CommandContext): Promise<SetBackendResult> {
  const result = await setBackend(ctx.options.backend);
  if (ctx.io.verbose) log(ctx.io, `backend: ${result.reason}`);
  return result;
}

/** The `config` block of the `--json` document (the split modes the dataset really used). */
export function describeConfig(ctx: CommandContext, dataset: AnomalyDataset, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const o = ctx.options;
  const split = dataset.splitInfo;
  return {
    command: ctx.command,
    ...(o.config !== undefined ? { configFile: resolve(o.config) } : {}),
    model: {
      backbone: o.backbone,
      layer: o.layer,
      weights: o.weights,
      poolingKernelSize: o.poolingKernelSize,
      pcaLevel: o.pcaLevel,
      scoreType: o.scoreType,
      imageSize: o.imageSize,
      precision: o.precision ?? 'fp32',
      ...(o.precision === 'int8' ? { calibration: o.calibration } : {}),
    },
    data: {
      format: o.format ?? (o.normalDir !== undefined ? 'folder' : 'mvtec'),
      root: o.data !== undefined ? resolve(o.data) : null,
      category: o.category ?? null,
      normalDir: o.normalDir ?? null,
      abnormalDir: o.abnormalDir ?? null,
      normalTestDir: o.normalTestDir ?? null,
      maskDir: o.maskDir ?? null,
      testSplitMode: split.testSplitMode,
      testSplitRatio: split.testSplitRatio,
      valSplitMode: split.valSplitMode,
      valSplitRatio: split.valSplitRatio,
    },
    run: {
      batchSize: o.batchSize,
      backend: o.backend,
      runtime: o.runtime,
      seed: o.seed,
      onBadImage: o.onBadImage,
      resultsDir: resolve(o.resultsDir),
    },
    ...extra,
  };
}

/** The runtime the model's backbone ran on (`tfjs`, `onnxruntime`), once it is loaded. */
export function runtimeOf(model: Dfm): string | null {
  return model.model.backbone?.runtime ?? null;
}

/**
 * The note when thresholds were not fitted, in flags: thresholds need anomalous validation images.
 * Null when thresholds were fitted.
 */
export function thresholdsNote(o: CliOptions, dataset: AnomalyDataset): string | null {
  if (dataset.splitInfo.thresholdSplit !== 'none') return null;
  const source =
    dataset.name === 'folder' && o.abnormalDir === undefined
      ? 'pass --abnormal-dir DIR (anomalous images) to fit them there'
      : dataset.test.length > 0
        ? 'use --val-split-mode from_test or same_as_test to fit them on the test images'
        : 'use --test-split-mode from_dir with anomalous test images';
  return `thresholds not fitted: they need anomalous validation images — ${source}, or --val-split-mode synthetic (synthetic anomalies made from held-out normal images). Until then dfm predict gives raw scores but no labels.`;
}
