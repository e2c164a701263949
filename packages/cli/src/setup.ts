import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BackboneName, type EngineChoice, type LayerName, type SetBackendResult, setBackend } from '@dfm/backbone';
import { type AnomalyDataset, Folder, MVTecAD } from '@dfm/data';
import { type DfmOptions, PreProcessor } from '@dfm/lightning-like';
import { UsageError } from './errors';
import { type Io, log } from './io';
import type { CliOptions, CommandName } from './options';

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
    throw new UsageError(`dfm ${command}: --format folder needs --normal-dir DIR (normal images), and usually --abnormal-dir DIR for evaluation.`);
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

/** The `Dfm` options of the CLI options (`engine` is passed through for the backbone engine). */
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
  if (o.engine !== 'auto') options.engine = o.engine as EngineChoice;
  return options;
}

/** Selects the tfjs backend and says which on stderr with --verbose. */
export async function selectBackend(ctx: CommandContext): Promise<SetBackendResult> {
  const result = await setBackend(ctx.options.backend);
  if (ctx.io.verbose) log(ctx.io, `backend: ${result.reason}`);
  return result;
}

/** The `config` block of the `--json` document. */
export function describeConfig(ctx: CommandContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const o = ctx.options;
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
    },
    data: {
      format: o.format ?? (o.normalDir !== undefined ? 'folder' : 'mvtec'),
      root: o.data !== undefined ? resolve(o.data) : null,
      category: o.category ?? null,
      normalDir: o.normalDir ?? null,
      abnormalDir: o.abnormalDir ?? null,
      normalTestDir: o.normalTestDir ?? null,
      maskDir: o.maskDir ?? null,
      valSplitMode: o.valSplitMode ?? 'same_as_test',
      valSplitRatio: o.valSplitRatio ?? 0.5,
    },
    run: {
      batchSize: o.batchSize,
      backend: o.backend,
      engine: o.engine,
      seed: o.seed,
      onBadImage: o.onBadImage,
      resultsDir: resolve(o.resultsDir),
    },
    ...extra,
  };
}

/** The backbone engine a model ran on (`tfjs`, `onnxruntime`), once its backbone is loaded. */
export function engineOf(model: { model: { backbone?: unknown } }): string | null {
  const backbone = model.model.backbone as { engine?: string } | undefined;
  return backbone?.engine ?? null;
}
