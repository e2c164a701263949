import { parseArgs } from 'node:util';
import { BACKBONE_NAMES, LAYER_NAMES } from '@dfm/backbone';
import { closest, UsageError } from './errors';

/** The CLI's commands. */
export type CommandName = 'train' | 'test' | 'predict' | 'export' | 'bench' | 'demo';

export const COMMANDS: readonly CommandName[] = ['train', 'test', 'predict', 'export', 'bench', 'demo'];

type Kind = 'string' | 'int' | 'number' | 'choice' | 'size' | 'boolean' | 'list';

/** One command-line option: its flag, its key in {@link CliOptions}, its type and where it applies. */
export interface OptionSpec {
  /** `--flag` name (kebab-case). */
  flag: string;
  key: keyof CliOptions;
  kind: Kind;
  choices?: readonly string[];
  /** Smallest value of an `int`/`number`. */
  min?: number;
  /** The value's placeholder in the help text. */
  value?: string;
  help: string;
  /** Default shown in the help (the real default is in `defaultOptions()`). */
  shown?: string;
  commands: readonly CommandName[];
}

/** Everything a command can be told, resolved from defaults, the config file and the flags. */
export interface CliOptions {
  config?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
  // data
  data?: string;
  category?: string;
  format?: 'mvtec' | 'folder';
  normalDir?: string;
  abnormalDir?: string;
  normalTestDir?: string;
  maskDir?: string;
  valSplitMode?: 'same_as_test' | 'from_test' | 'synthetic' | 'none';
  valSplitRatio?: number;
  normalSplitRatio?: number;
  // model
  backbone: string;
  layer: string;
  /** Path, URL, hub id, `'imagenet'`; `null` = seeded random weights (`--weights random`). */
  weights: string | null;
  poolingKernelSize: number;
  pcaLevel: number;
  scoreType: 'fre' | 'nll';
  imageSize: [number, number];
  // run
  batchSize: number;
  backend: string;
  engine: string;
  seed: number;
  onBadImage: 'error' | 'skip';
  resultsDir: string;
  // model files and IO
  model?: string;
  input?: string;
  output?: string;
  out?: string;
  // bench
  assetsDir?: string;
  engines?: string[];
  skipTorch: boolean;
  skipMemory: boolean;
  memoryImages?: number;
  iterations?: number;
}

const FIT: readonly CommandName[] = ['train', 'test', 'demo'];
const RUN: readonly CommandName[] = ['train', 'test', 'predict', 'demo'];
const ALL: readonly CommandName[] = COMMANDS;

/** Every option, in help order. Names are the library's (`pcaLevel` → `--pca-level`). */
export const OPTION_SPECS: readonly OptionSpec[] = [
  { flag: 'config', key: 'config', kind: 'string', value: 'FILE', help: 'YAML or JSON config (camelCase keys or anomalib layout); flags override it', commands: ['train', 'test', 'predict', 'export', 'demo'] },
  { flag: 'data', key: 'data', kind: 'string', value: 'DIR', help: 'dataset root (MVTec layout: DIR/<category>/train/good, test/<defect>, ground_truth/<defect>)', commands: FIT },
  { flag: 'category', key: 'category', kind: 'string', value: 'NAME', help: 'MVTec category folder inside --data (e.g. bottle)', commands: FIT },
  { flag: 'format', key: 'format', kind: 'choice', choices: ['mvtec', 'folder'], help: 'dataset layout', shown: 'mvtec; folder when --normal-dir is given', commands: FIT },
  { flag: 'normal-dir', key: 'normalDir', kind: 'string', value: 'DIR', help: 'folder format: normal (good) images to fit on', commands: FIT },
  { flag: 'abnormal-dir', key: 'abnormalDir', kind: 'string', value: 'DIR', help: 'folder format: anomalous test images (sub-folders = defect types)', commands: FIT },
  { flag: 'normal-test-dir', key: 'normalTestDir', kind: 'string', value: 'DIR', help: 'folder format: normal test images (default: a seeded part of --normal-dir)', commands: FIT },
  { flag: 'mask-dir', key: 'maskDir', kind: 'string', value: 'DIR', help: 'folder format: ground-truth masks (<stem>.png or <stem>_mask.png)', commands: FIT },
  { flag: 'normal-split-ratio', key: 'normalSplitRatio', kind: 'number', min: 0, value: 'R', help: 'folder format: share of --normal-dir moved to test without --normal-test-dir', shown: '0.2', commands: FIT },
  { flag: 'val-split-mode', key: 'valSplitMode', kind: 'choice', choices: ['same_as_test', 'from_test', 'synthetic', 'none'], help: 'where thresholds are fitted', shown: 'same_as_test', commands: FIT },
  { flag: 'val-split-ratio', key: 'valSplitRatio', kind: 'number', min: 0, value: 'R', help: 'share of the test set moved to validation (from_test)', shown: '0.5', commands: FIT },
  { flag: 'backbone', key: 'backbone', kind: 'choice', choices: BACKBONE_NAMES, help: 'feature extractor', shown: 'resnet50', commands: FIT },
  { flag: 'layer', key: 'layer', kind: 'choice', choices: LAYER_NAMES, help: 'backbone layer whose features are modelled', shown: 'layer3', commands: FIT },
  { flag: 'weights', key: 'weights', kind: 'string', value: 'SPEC', help: "backbone weights: 'imagenet' (downloaded once), a .safetensors path or URL, a hub id, or 'random'", shown: 'imagenet', commands: ['train', 'test', 'predict', 'export', 'demo'] },
  { flag: 'pooling-kernel-size', key: 'poolingKernelSize', kind: 'int', min: 1, value: 'N', help: 'average-pooling kernel = stride on the feature map', shown: '4', commands: FIT },
  { flag: 'pca-level', key: 'pcaLevel', kind: 'number', min: 0, value: 'L', help: 'PCA: explained-variance ratio in (0, 1], or a component count ≥ 1', shown: '0.97', commands: FIT },
  { flag: 'score-type', key: 'scoreType', kind: 'choice', choices: ['fre', 'nll'], help: 'fre: reconstruction error + anomaly maps; nll: Gaussian likelihood, image scores only', shown: 'fre', commands: FIT },
  { flag: 'image-size', key: 'imageSize', kind: 'size', value: 'N|HxW', help: 'images are resized to this before the backbone', shown: '256', commands: FIT },
  { flag: 'batch-size', key: 'batchSize', kind: 'int', min: 1, value: 'N', help: 'images per batch', shown: '16', commands: RUN },
  { flag: 'backend', key: 'backend', kind: 'choice', choices: ['auto', 'wasm', 'cpu', 'tensorflow'], help: 'tfjs backend', shown: '$DFM_BACKEND or auto', commands: RUN },
  { flag: 'engine', key: 'engine', kind: 'choice', choices: ['auto', 'tfjs', 'onnxruntime'], help: 'inference engine of the backbone', shown: 'auto', commands: RUN },
  { flag: 'seed', key: 'seed', kind: 'int', min: 0, value: 'N', help: 'seed of the splits (and of random weights)', shown: '0', commands: FIT },
  { flag: 'on-bad-image', key: 'onBadImage', kind: 'choice', choices: ['error', 'skip'], help: 'stop at an unreadable image, or skip and report it', shown: 'error', commands: RUN },
  { flag: 'results-dir', key: 'resultsDir', kind: 'string', value: 'DIR', help: 'results go to DIR/dfm/<dataset>/<category>/', shown: 'results', commands: FIT },
  { flag: 'model', key: 'model', kind: 'string', value: 'FILE', help: 'a .dfm model file (test: evaluate it instead of fitting)', commands: ['test', 'predict', 'export'] },
  { flag: 'input', key: 'input', kind: 'string', value: 'FILE|DIR', help: 'an image, or a folder of images (searched recursively)', commands: ['predict'] },
  { flag: 'output', key: 'output', kind: 'string', value: 'DIR', help: 'write heatmap PNGs, predictions.csv and predictions.json here', commands: ['predict'] },
  { flag: 'out', key: 'out', kind: 'string', value: 'PATH', help: 'train: where to write the model file (default: the results directory); export: the folder to create', commands: ['train', 'export'] },
  { flag: 'assets-dir', key: 'assetsDir', kind: 'string', value: 'DIR', help: 'development assets folder', shown: 'found by findAssetsDir', commands: ['bench'] },
  { flag: 'engines', key: 'engines', kind: 'list', value: 'A,B', help: 'engines to measure', shown: 'all available', commands: ['bench'] },
  { flag: 'skip-torch', key: 'skipTorch', kind: 'boolean', help: 'skip the PyTorch reference run', commands: ['bench'] },
  { flag: 'skip-memory', key: 'skipMemory', kind: 'boolean', help: 'skip the peak-memory fit on 1,000 images (the slowest part)', commands: ['bench'] },
  { flag: 'memory-images', key: 'memoryImages', kind: 'int', min: 1, value: 'N', help: 'images in the memory check', shown: '1000', commands: ['bench'] },
  { flag: 'iterations', key: 'iterations', kind: 'int', min: 1, value: 'N', help: 'backbone timing iterations after one warm-up', shown: '5', commands: ['bench'] },
  { flag: 'json', key: 'json', kind: 'boolean', help: 'print one JSON document on stdout (logs go to stderr)', commands: ALL },
  { flag: 'verbose', key: 'verbose', kind: 'boolean', help: 'print stack traces and more detail on stderr', commands: ALL },
  { flag: 'help', key: 'help', kind: 'boolean', help: 'print this help', commands: ALL },
];

/** Defaults (the library's). `backend` follows `$DFM_BACKEND`. */
export function defaultOptions(env: Record<string, string | undefined> = process.env): CliOptions {
  return {
    json: false,
    verbose: false,
    help: false,
    backbone: 'resnet50',
    layer: 'layer3',
    weights: 'imagenet',
    poolingKernelSize: 4,
    pcaLevel: 0.97,
    scoreType: 'fre',
    imageSize: [256, 256],
    batchSize: 16,
    backend: env.DFM_BACKEND && env.DFM_BACKEND !== '' ? env.DFM_BACKEND : 'auto',
    engine: 'auto',
    seed: 0,
    onBadImage: 'error',
    resultsDir: 'results',
    skipTorch: false,
    skipMemory: false,
  };
}

/** The options a command accepts. */
export function optionsOf(command: CommandName): OptionSpec[] {
  return OPTION_SPECS.filter((spec) => spec.commands.includes(command));
}

/** The flags as typed (strings and booleans), before the config file and defaults are merged in. */
export type RawFlags = Partial<Record<keyof CliOptions, string | boolean>>;

/** Parses `argv` (after the command) into raw flag values; unknown flags and stray arguments are {@link UsageError}s. */
export function parseFlags(command: CommandName, argv: readonly string[]): RawFlags {
  const specs = optionsOf(command);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const spec of specs) options[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  options.help = { type: 'boolean', short: 'h' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw flagError(command, error as Error & { code?: string }, specs);
  }
  const raw: RawFlags = {};
  for (const spec of specs) {
    const value = values[spec.flag];
    if (value !== undefined) raw[spec.key] = value;
  }
  return raw;
}

function flagError(command: CommandName, error: Error & { code?: string }, specs: readonly OptionSpec[]): UsageError {
  const help = `Run 'dfm ${command} --help' for its options.`;
  const unknown = /Unknown option '([^']+)'/.exec(error.message);
  if (unknown) {
    const flag = (unknown[1] as string).replace(/^-+/, '').split('=')[0] as string;
    const elsewhere = OPTION_SPECS.find((spec) => spec.flag === flag);
    if (elsewhere) {
      return new UsageError(`dfm ${command}: --${flag} is not an option of this command (it belongs to dfm ${elsewhere.commands.join(', dfm ')}). ${help}`);
    }
    const guess = closest(flag, specs.map((spec) => spec.flag));
    return new UsageError(`dfm ${command}: unknown option --${flag}.${guess ? ` Did you mean --${guess}?` : ''} ${help}`);
  }
  const missing = /Option '(?:-\w, )?--([^ ']+)[^']*' argument missing/.exec(error.message);
  if (missing) return new UsageError(`dfm ${command}: --${missing[1]} needs a value. ${help}`);
  const positional = /Unexpected argument '([^']*)'/.exec(error.message);
  if (positional) {
    return new UsageError(`dfm ${command}: unexpected argument '${positional[1]}' — every input is given with a flag (e.g. --input FILE). ${help}`);
  }
  return new UsageError(`dfm ${command}: ${error.message}. ${help}`);
}

/** Turns one raw value (a flag's string, or a config file's value) into the option's type. */
export function coerceOption(spec: OptionSpec, value: unknown, where: 'flag' | 'config'): unknown {
  const name = where === 'config' ? `config key '${String(spec.key)}'` : `--${spec.flag}`;
  const bad = (expected: string): never => {
    throw new UsageError(`dfm: ${name} must be ${expected} — got ${JSON.stringify(value)}.`);
  };
  switch (spec.kind) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      return bad('true or false');
    case 'string':
      if (spec.key === 'weights') {
        if (value === null || value === false || value === 'random' || value === 'none') return null;
      }
      if (typeof value === 'string' && value !== '') return value;
      return bad('a non-empty string');
    case 'list':
      if (Array.isArray(value)) return value.map(String);
      if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
      return bad('a comma-separated list');
    case 'int':
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      const integer = spec.kind === 'int';
      if (!Number.isFinite(number) || (integer && !Number.isInteger(number)) || number < (spec.min ?? Number.NEGATIVE_INFINITY) || (spec.key !== 'pcaLevel' ? false : number === 0)) {
        return bad(`${integer ? 'an integer' : 'a number'}${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}${spec.key === 'pcaLevel' ? ' (a ratio in (0, 1] or a count ≥ 1)' : ''}`);
      }
      return number;
    }
    case 'choice': {
      const text = String(value);
      const choices = spec.choices ?? [];
      if (choices.includes(text)) return text;
      const guess = closest(text, choices);
      throw new UsageError(
        `dfm: ${name} must be one of ${choices.join(', ')} — got ${JSON.stringify(value)}.${guess ? ` Did you mean ${guess}?` : ''}`,
      );
    }
    case 'size': {
      let pair: number[];
      if (typeof value === 'number') pair = [value, value];
      else if (Array.isArray(value)) pair = value.map(Number);
      else if (typeof value === 'string') {
        const parts = value.split(/[x×,]/i).map((s) => Number(s.trim()));
        pair = parts.length === 1 ? [parts[0] as number, parts[0] as number] : parts;
      } else return bad('N or HxW');
      if (pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v >= 32)) return bad('N or HxW with integers ≥ 32 (e.g. 256 or 256x320)');
      return [pair[0], pair[1]];
    }
  }
}

/** The spec of an option by its key. */
export function specOf(key: keyof CliOptions): OptionSpec {
  const spec = OPTION_SPECS.find((s) => s.key === key);
  if (spec === undefined) throw new Error(`no option ${String(key)}`);
  return spec;
}

/**
 * Resolves a command's options: defaults, then the config file's values, then the flags.
 * Returns the options and the keys the user set (by a flag or the config file).
 */
export function resolveOptions(
  flags: RawFlags,
  fromConfig: Partial<Record<keyof CliOptions, unknown>>,
  env: Record<string, string | undefined> = process.env,
): { options: CliOptions; explicit: Set<keyof CliOptions> } {
  const options = defaultOptions(env) as unknown as Record<string, unknown>;
  const explicit = new Set<keyof CliOptions>();
  for (const [key, value] of Object.entries(fromConfig)) {
    if (value === undefined) continue;
    const spec = specOf(key as keyof CliOptions);
    options[key] = coerceOption(spec, value, 'config');
    explicit.add(key as keyof CliOptions);
  }
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const spec = specOf(key as keyof CliOptions);
    options[key] = coerceOption(spec, value, 'flag');
    explicit.add(key as keyof CliOptions);
  }
  return { options: options as unknown as CliOptions, explicit };
}
