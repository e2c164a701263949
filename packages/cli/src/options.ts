import { parseArgs } from 'node:util';
import { BACKBONE_NAMES, LAYER_NAMES, RUNTIME_CHOICES, type RuntimeChoice } from '@dfm/backbone';
import { BENCH_RUNTIMES } from './bench/runtimes';
import { closest, UsageError } from './errors';

/** The CLI's commands. */
export type CommandName = 'train' | 'test' | 'predict' | 'export' | 'serve' | 'worker' | 'submit' | 'queue' | 'bench' | 'demo';

export const COMMANDS: readonly CommandName[] = ['train', 'test', 'predict', 'export', 'serve', 'worker', 'submit', 'queue', 'bench', 'demo'];

/** `paths`: a path that may be given several times (`--input a --input b`), kept in order. */
type Kind = 'string' | 'int' | 'number' | 'choice' | 'size' | 'boolean' | 'list' | 'paths';

/** One command-line option: its flag, its key in {@link CliOptions}, its type and where it applies. */
export interface OptionSpec {
  /** `--flag` name (kebab-case). */
  flag: string;
  key: keyof CliOptions;
  kind: Kind;
  choices?: readonly string[];
  /** Smallest value of an `int`/`number`. */
  min?: number;
  /** Largest value of an `int`/`number`. */
  max?: number;
  /** The value's placeholder in the help text. */
  value?: string;
  help: string;
  /** Default shown in the help (the real default is in `defaultOptions()`). */
  shown?: string;
  commands: readonly CommandName[];
  /** A boolean that is on by default and also has a `--no-<flag>` form (`--wait` / `--no-wait`). */
  negatable?: boolean;
  /**
   * A deprecated alias (kept for one release): the flag still works, sets `key`, and prints one
   * warning naming the flag to use instead. Not listed in the help.
   */
  deprecatedFor?: string;
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
  testSplitMode?: 'from_dir' | 'synthetic' | 'none';
  testSplitRatio?: number;
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
  /** Backbone precision: fit commands fit at it (default fp32); predict / export check the model's against it. */
  precision?: 'fp32' | 'int8';
  /** int8 fits: how activation ranges are measured. */
  calibration: 'minmax' | 'percentile';
  // run
  batchSize: number;
  backend: string;
  /** What executes the backbone network (`--runtime`; `--engine` is its deprecated name). */
  runtime: RuntimeChoice;
  seed: number;
  onBadImage: 'error' | 'skip';
  resultsDir: string;
  // model files and IO
  model?: string;
  input?: string;
  output?: string;
  out?: string;
  /** predict: write over the predictions of an earlier run in `--output`; train: replace the `--out` file. */
  overwrite: boolean;
  /** export: `web` (the default: a folder for browsers and Node) or `onnx` (model.onnx + metadata.json). */
  exportType: 'web' | 'onnx';
  // serve
  host?: string;
  port?: number;
  token?: string;
  maxBatchSize?: number;
  maxWaitMs?: number;
  maxQueue?: number;
  // queue (worker, submit, queue, train --distributed)
  /** Redis URL of the queue (`--redis`). */
  redis?: string;
  /** The scoring queue's name (`--queue`); its fit shards go to `<queue>-fit`. */
  queue?: string;
  concurrency?: number;
  threads?: number;
  lockDurationMs?: number;
  /** submit: the images and folders (`--input`, repeatable). */
  inputs?: string[];
  heatmaps: boolean;
  /** submit: wait for the results (`--no-wait`: print the job ids and exit). */
  wait: boolean;
  attempts?: number;
  /** submit: try again images whose earlier job failed for good. */
  retryFailed: boolean;
  prometheus: boolean;
  limit?: number;
  /** train: fit through the queue's workers. */
  distributed: boolean;
  shards?: number;
  // bench
  assetsDir?: string;
  runtimes?: string[];
  skipTorch: boolean;
  skipMemory: boolean;
  skipService: boolean;
  serviceOnly: boolean;
  skipEndToEnd: boolean;
  skipAccuracy: boolean;
  memoryImages?: number;
  iterations?: number;
}

const FIT: readonly CommandName[] = ['train', 'test', 'demo'];
const RUN: readonly CommandName[] = ['train', 'test', 'predict', 'demo', 'serve'];
const ALL: readonly CommandName[] = COMMANDS;

/** The help text of `--pca-level` (the library's `pcaLevel`/`nComps`, as in anomalib). */
export const PCA_LEVEL_HELP = 'PCA: a variance ratio in (0, 1), or an integer component count ≥ 1 (1 = one component)';

/**
 * Every option, in help order. Names are the library's (`pcaLevel` → `--pca-level`). A flag may have
 * one entry per group of commands, to give each its own help text (`--model` of dfm worker); such
 * entries share the flag, the key and the kind.
 */
export const OPTION_SPECS: readonly OptionSpec[] = [
  { flag: 'config', key: 'config', kind: 'string', value: 'FILE', help: 'YAML or JSON config (camelCase keys or anomalib layout); flags override it', commands: ['train', 'test', 'predict', 'export', 'demo'] },
  { flag: 'data', key: 'data', kind: 'string', value: 'DIR', help: 'dataset root (MVTec layout: DIR/<category>/train/good, test/<defect>, ground_truth/<defect>)', commands: FIT },
  { flag: 'category', key: 'category', kind: 'string', value: 'NAME', help: 'MVTec category folder inside --data (e.g. bottle)', commands: FIT },
  { flag: 'format', key: 'format', kind: 'choice', choices: ['mvtec', 'folder'], help: 'dataset layout', shown: 'mvtec; folder when --normal-dir is given', commands: FIT },
  { flag: 'normal-dir', key: 'normalDir', kind: 'string', value: 'DIR', help: 'folder format: normal (good) images to fit on', commands: FIT },
  { flag: 'abnormal-dir', key: 'abnormalDir', kind: 'string', value: 'DIR', help: 'folder format: anomalous test images (sub-folders = defect types)', commands: FIT },
  { flag: 'normal-test-dir', key: 'normalTestDir', kind: 'string', value: 'DIR', help: 'folder format: normal test images (default: a seeded part of --normal-dir)', commands: FIT },
  { flag: 'mask-dir', key: 'maskDir', kind: 'string', value: 'DIR', help: 'folder format: ground-truth masks (<stem>.png or <stem>_mask.png)', commands: FIT },
  { flag: 'normal-split-ratio', key: 'normalSplitRatio', kind: 'number', min: 0, max: 1, value: 'R', help: 'folder format: share of --normal-dir moved to test without --normal-test-dir', shown: '0.2', commands: FIT },
  { flag: 'test-split-mode', key: 'testSplitMode', kind: 'choice', choices: ['from_dir', 'synthetic', 'none'], help: "where test images come from: the dataset's folders, normal images held out with synthetic anomalies, or none", shown: 'from_dir; none for a folder dataset without --abnormal-dir', commands: FIT },
  { flag: 'test-split-ratio', key: 'testSplitRatio', kind: 'number', min: 0, max: 1, value: 'R', help: 'share of the normal images held out for a synthetic test set', shown: '0.2', commands: FIT },
  { flag: 'val-split-mode', key: 'valSplitMode', kind: 'choice', choices: ['same_as_test', 'from_test', 'synthetic', 'none'], help: 'where thresholds are fitted', shown: 'same_as_test; none for a folder dataset without --abnormal-dir', commands: FIT },
  { flag: 'val-split-ratio', key: 'valSplitRatio', kind: 'number', min: 0, max: 1, value: 'R', help: 'share moved to validation (from_test: of each test defect type; synthetic: of the normal images)', shown: '0.5', commands: FIT },
  { flag: 'backbone', key: 'backbone', kind: 'choice', choices: BACKBONE_NAMES, help: 'feature extractor', shown: 'resnet50', commands: FIT },
  { flag: 'layer', key: 'layer', kind: 'choice', choices: LAYER_NAMES, help: 'backbone layer whose features are modelled', shown: 'layer3', commands: FIT },
  { flag: 'weights', key: 'weights', kind: 'string', value: 'SPEC', help: "backbone weights: 'imagenet' (downloaded once), a .safetensors path or URL, a hub id, or 'random'", shown: 'imagenet', commands: ['train', 'test', 'predict', 'export', 'demo'] },
  { flag: 'weights', key: 'weights', kind: 'string', value: 'SPEC', help: "backbone weights on this host, when not where the model file says (a .safetensors path or URL, a hub id, or 'imagenet')", shown: "the model file's", commands: ['worker'] },
  { flag: 'pooling-kernel-size', key: 'poolingKernelSize', kind: 'int', min: 1, value: 'N', help: 'average-pooling kernel = stride on the feature map', shown: '4', commands: FIT },
  { flag: 'pca-level', key: 'pcaLevel', kind: 'number', value: 'L', help: PCA_LEVEL_HELP, shown: '0.97', commands: FIT },
  { flag: 'score-type', key: 'scoreType', kind: 'choice', choices: ['fre', 'nll'], help: 'fre: reconstruction error + anomaly maps; nll: Gaussian likelihood, image scores only', shown: 'fre', commands: FIT },
  { flag: 'image-size', key: 'imageSize', kind: 'size', value: 'N|HxW', help: 'images are resized to this before the backbone', shown: '256', commands: FIT },
  { flag: 'precision', key: 'precision', kind: 'choice', choices: ['fp32', 'int8'], help: 'backbone precision: int8 = the network quantized after training (onnxruntime; activation ranges measured on 32 training images), ~2.5× faster backbone on CPUs with VNNI', shown: 'fp32', commands: FIT },
  { flag: 'precision', key: 'precision', kind: 'choice', choices: ['fp32', 'int8'], help: "refuse a model fitted at another precision (the model file's precision is always used)", shown: "the model's", commands: ['predict', 'export'] },
  { flag: 'calibration', key: 'calibration', kind: 'choice', choices: ['minmax', 'percentile'], help: 'int8: how activation ranges are taken from the calibration images (minmax: the extremes; percentile: 0.01 % clipped at each end)', shown: 'minmax', commands: FIT },
  { flag: 'batch-size', key: 'batchSize', kind: 'int', min: 1, value: 'N', help: 'images per batch', shown: '16', commands: RUN },
  { flag: 'backend', key: 'backend', kind: 'choice', choices: ['auto', 'wasm', 'cpu', 'tensorflow'], help: 'tfjs backend', shown: '$DFM_BACKEND or auto', commands: RUN },
  { flag: 'runtime', key: 'runtime', kind: 'choice', choices: RUNTIME_CHOICES, help: 'what executes the backbone network (auto: tfjs on tfjs-node-gpu, else onnxruntime, else tfjs — the first installed)', shown: 'auto', commands: [...RUN, 'worker'] },
  { flag: 'engine', key: 'runtime', kind: 'choice', choices: RUNTIME_CHOICES, help: 'deprecated: use --runtime (same values)', commands: RUN, deprecatedFor: 'runtime' },
  { flag: 'seed', key: 'seed', kind: 'int', min: 0, value: 'N', help: 'seed of the splits (and of random weights)', shown: '0', commands: FIT },
  { flag: 'on-bad-image', key: 'onBadImage', kind: 'choice', choices: ['error', 'skip'], help: 'stop at an unreadable image, or skip and report it', shown: 'error', commands: RUN },
  { flag: 'results-dir', key: 'resultsDir', kind: 'string', value: 'DIR', help: 'each run writes a new folder DIR/dfm/<dataset>/<category>/v<N>/ (and points latest at it); never inside a data folder', shown: 'results', commands: FIT },
  { flag: 'model', key: 'model', kind: 'string', value: 'FILE', help: 'a .dfm model file (test: evaluate it instead of fitting; serve: also a dfm export or ONNX export folder)', commands: ['test', 'predict', 'export', 'serve'] },
  { flag: 'model', key: 'model', kind: 'string', value: 'FILE', help: 'the .dfm model to score with (a path on this host); without it the worker only takes fit shards (dfm train --distributed)', commands: ['worker'] },
  { flag: 'input', key: 'input', kind: 'string', value: 'FILE|DIR', help: 'an image, or a folder of images (searched recursively)', commands: ['predict'] },
  { flag: 'output', key: 'output', kind: 'string', value: 'DIR', help: "write heatmap PNGs (<name.ext>.png, mirroring the input's sub-folders), predictions.csv and predictions.json here; outside --input", commands: ['predict'] },
  { flag: 'out', key: 'out', kind: 'string', value: 'PATH', help: "train: the model file to write, a new file outside the data folders (default: the run folder's model.dfm); export: the folder to create", commands: ['train', 'export'] },
  { flag: 'host', key: 'host', kind: 'string', value: 'ADDR', help: 'serve: the address to listen on (0.0.0.0 for every interface; set --token then)', shown: '127.0.0.1', commands: ['serve'] },
  { flag: 'port', key: 'port', kind: 'int', min: 0, max: 65535, value: 'N', help: 'serve: the port (0 = any free port)', shown: '8080', commands: ['serve'] },
  { flag: 'token', key: 'token', kind: 'string', value: 'TOKEN', help: 'serve: bearer token required on every route but the probes and the page (at least 8 characters)', shown: '$DFM_SERVE_TOKEN or none', commands: ['serve'] },
  { flag: 'max-batch-size', key: 'maxBatchSize', kind: 'int', min: 1, value: 'N', help: 'serve: images scored together at most (1 = no dynamic batching)', shown: '16', commands: ['serve'] },
  { flag: 'max-wait-ms', key: 'maxWaitMs', kind: 'int', min: 0, value: 'MS', help: 'serve: how long the first waiting image waits for others', shown: '5', commands: ['serve'] },
  { flag: 'max-queue', key: 'maxQueue', kind: 'int', min: 1, value: 'N', help: 'serve: images allowed to wait; beyond, 503 with Retry-After', shown: '64', commands: ['serve'] },
  { flag: 'redis', key: 'redis', kind: 'string', value: 'URL', help: 'the Redis the queue lives in: redis://[user:password@]host[:port][/db], rediss:// for TLS (train: with --distributed)', commands: ['worker', 'submit', 'queue', 'train'] },
  { flag: 'queue', key: 'queue', kind: 'string', value: 'NAME', help: "the scoring queue (letters, digits, '.', '_', '-'); fit shards go to NAME-fit", commands: ['worker', 'submit', 'queue'] },
  { flag: 'queue', key: 'queue', kind: 'string', value: 'NAME', help: 'with --distributed: the queue whose workers take the fit shards (from NAME-fit)', shown: 'dfm', commands: ['train'] },
  { flag: 'distributed', key: 'distributed', kind: 'boolean', help: 'fit through the workers of --queue on --redis: the training images are cut into --shards shards, each read by a worker (images and --weights at the same paths on every worker)', commands: ['train'] },
  { flag: 'shards', key: 'shards', kind: 'int', min: 1, value: 'N', help: 'with --distributed: shards the training images are cut into (more shards than workers balance better)', shown: '4', commands: ['train'] },
  { flag: 'concurrency', key: 'concurrency', kind: 'int', min: 1, value: 'N', help: 'jobs run at once, each in its own thread with its own Detector', shown: '1', commands: ['worker'] },
  { flag: 'threads', key: 'threads', kind: 'int', min: 1, value: 'N', help: 'onnxruntime threads per job (1 scales best: add --concurrency or worker processes instead)', shown: '1', commands: ['worker'] },
  { flag: 'lock-duration-ms', key: 'lockDurationMs', kind: 'int', min: 1, value: 'MS', help: "how long a job's lock lasts without renewal: the jobs of a worker that dies go to the others after this", shown: '30000', commands: ['worker'] },
  { flag: 'input', key: 'inputs', kind: 'paths', value: 'FILE|DIR', help: 'an image, or a folder of images (searched recursively); repeat --input for several. Paths as the workers see them (shared storage)', commands: ['submit'] },
  { flag: 'output', key: 'output', kind: 'string', value: 'DIR', help: 'write predictions.csv and predictions.json here (and heatmaps/ with --heatmaps); outside --input', commands: ['submit'] },
  { flag: 'heatmaps', key: 'heatmaps', kind: 'boolean', help: 'the workers write a heatmap PNG per image to <output>/heatmaps/<job id>.png: --output must be storage every worker sees, at the same path', commands: ['submit'] },
  { flag: 'wait', key: 'wait', kind: 'boolean', negatable: true, help: 'wait for the results (progress on stderr, the predictions at the end); --no-wait prints the job ids and exits', shown: 'on', commands: ['submit'] },
  { flag: 'attempts', key: 'attempts', kind: 'int', min: 1, value: 'N', help: 'tries per image before it is failed and dead-lettered', shown: '3', commands: ['submit'] },
  { flag: 'retry-failed', key: 'retryFailed', kind: 'boolean', help: 'try again the images whose earlier job failed for good (by default a resubmission returns the earlier failure)', commands: ['submit'] },
  { flag: 'overwrite', key: 'overwrite', kind: 'boolean', help: 'write over the predictions of an earlier run in --output (other files there are kept)', commands: ['submit'] },
  { flag: 'prometheus', key: 'prometheus', kind: 'boolean', help: 'stats: print the counts as Prometheus text (dfm_queue_jobs, dfm_queue_dead_letters, dfm_queue_workers)', commands: ['queue'] },
  { flag: 'limit', key: 'limit', kind: 'int', min: 1, value: 'N', help: 'dead-letters: how many to list, oldest first', shown: '100', commands: ['queue'] },
  { flag: 'export-type', key: 'exportType', kind: 'choice', choices: ['web', 'onnx'], help: "what to export: web (model, weights, dfm.js, a scoring page) or onnx (the whole model as one ONNX graph + metadata.json, for Python, C#, C++; see docs/deploy.md)", shown: 'web', commands: ['export'] },
  { flag: 'overwrite', key: 'overwrite', kind: 'boolean', help: 'predict: write over the predictions of an earlier run in --output (other files there are kept); train: replace an existing --out file', commands: ['predict', 'train'] },
  { flag: 'assets-dir', key: 'assetsDir', kind: 'string', value: 'DIR', help: 'development assets folder', shown: 'found by findAssetsDir', commands: ['bench'] },
  { flag: 'runtimes', key: 'runtimes', kind: 'list', choices: BENCH_RUNTIMES, help: 'backbone runtimes to measure', shown: 'all available', commands: ['bench'] },
  { flag: 'engines', key: 'runtimes', kind: 'list', choices: BENCH_RUNTIMES, help: 'deprecated: use --runtimes (same values)', commands: ['bench'], deprecatedFor: 'runtimes' },
  { flag: 'skip-torch', key: 'skipTorch', kind: 'boolean', help: 'skip the PyTorch reference run', commands: ['bench'] },
  { flag: 'skip-memory', key: 'skipMemory', kind: 'boolean', help: 'skip the peak-memory fit on 1,000 images (the slowest part)', commands: ['bench'] },
  { flag: 'skip-service', key: 'skipService', kind: 'boolean', help: 'skip the service rows (dfm serve under autocannon)', commands: ['bench'] },
  { flag: 'skip-e2e', key: 'skipEndToEnd', kind: 'boolean', help: 'skip the end-to-end rows (dfm test on the bottle as a process, fp32 and int8, against the PyTorch script as a process)', commands: ['bench'] },
  { flag: 'skip-accuracy', key: 'skipAccuracy', kind: 'boolean', help: 'skip the int8 accuracy table (dfm test on the bottle and magnetic-tile at fp32, int8 minmax and int8 percentile; ~3 min)', commands: ['bench'] },
  { flag: 'service-only', key: 'serviceOnly', kind: 'boolean', help: 'only the service rows and the onnxruntime pipeline they are compared with', commands: ['bench'] },
  { flag: 'memory-images', key: 'memoryImages', kind: 'int', min: 1, value: 'N', help: 'images in the memory check', shown: '1000', commands: ['bench'] },
  { flag: 'iterations', key: 'iterations', kind: 'int', min: 1, value: 'N', help: 'backbone timing iterations after one warm-up', shown: '5', commands: ['bench'] },
  { flag: 'json', key: 'json', kind: 'boolean', help: 'print one JSON document on stdout (logs go to stderr)', commands: ALL.filter((command) => command !== 'worker') },
  { flag: 'json', key: 'json', kind: 'boolean', help: 'log one pino-like JSON line per event on stdout (ready, failed jobs, dead letters, stop)', commands: ['worker'] },
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
    calibration: 'minmax',
    batchSize: 16,
    backend: env.DFM_BACKEND && env.DFM_BACKEND !== '' ? env.DFM_BACKEND : 'auto',
    runtime: 'auto',
    seed: 0,
    onBadImage: 'error',
    resultsDir: 'results',
    overwrite: false,
    exportType: 'web',
    heatmaps: false,
    wait: true,
    retryFailed: false,
    prometheus: false,
    distributed: false,
    skipTorch: false,
    skipMemory: false,
    skipService: false,
    serviceOnly: false,
    skipEndToEnd: false,
    skipAccuracy: false,
  };
}

/** The options a command accepts (deprecated aliases included). */
export function optionsOf(command: CommandName): OptionSpec[] {
  return OPTION_SPECS.filter((spec) => spec.commands.includes(command));
}

/** The flags as typed (strings and booleans), before the config file and defaults are merged in. */
export type RawFlags = Partial<Record<keyof CliOptions, string | boolean | string[]>>;

/** What {@link parseFlags} found: the raw values, and one warning per deprecated flag used. */
export interface ParsedFlags {
  flags: RawFlags;
  warnings: string[];
}

/** The warning printed once when a deprecated flag is used. */
export function deprecationWarning(spec: OptionSpec): string {
  return `--${spec.flag} is deprecated; use --${spec.deprecatedFor} (same values)`;
}

/**
 * Parses `argv` (after the command) into raw flag values; unknown flags and stray arguments are
 * {@link UsageError}s. A deprecated alias (`--engine`) sets its option and adds a warning; given
 * together with its new name and another value it is an error.
 */
export function parseFlags(command: CommandName, argv: readonly string[]): ParsedFlags {
  const specs = optionsOf(command);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of specs) {
    options[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string', ...(spec.kind === 'paths' ? { multiple: true } : {}) };
    if (spec.negatable) options[`no-${spec.flag}`] = { type: 'boolean' };
  }
  options.help = { type: 'boolean', short: 'h' };
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }) as { values: typeof values });
  } catch (error) {
    throw flagError(command, error, specs);
  }
  const flags: RawFlags = {};
  const warnings: string[] = [];
  // Current names first, so an alias can be compared with them.
  for (const spec of [...specs].sort((a, b) => Number(a.deprecatedFor !== undefined) - Number(b.deprecatedFor !== undefined))) {
    let value = values[spec.flag];
    if (spec.negatable && values[`no-${spec.flag}`] === true) {
      if (value === true) throw new UsageError(`dfm ${command}: --${spec.flag} and --no-${spec.flag} contradict each other. Pass one of them.`);
      value = false;
    }
    if (value === undefined) continue;
    if (spec.deprecatedFor !== undefined) {
      const current = flags[spec.key];
      if (current !== undefined && current !== value) {
        throw new UsageError(
          `dfm ${command}: --${spec.flag} and --${spec.deprecatedFor} must not disagree — got --${spec.flag} ${String(value)} and --${spec.deprecatedFor} ${String(current)}. --${spec.flag} is the deprecated name of --${spec.deprecatedFor}: pass --${spec.deprecatedFor} only.`,
        );
      }
      warnings.push(deprecationWarning(spec));
    }
    flags[spec.key] = value;
  }
  return { flags, warnings };
}

/** The `--flag` a node:util parseArgs error message names (only the name is read from the text). */
function flagNamed(message: string): string | undefined {
  const match = /'(?:-\w, )?(--?[^\s'=]+)/.exec(message);
  return match?.[1]?.replace(/^-+/, '');
}

/** A {@link UsageError} for a node:util parseArgs error, chosen by the error's `code`. */
export function flagError(command: CommandName, error: unknown, specs: readonly OptionSpec[] = optionsOf(command)): UsageError {
  const help = `Run 'dfm ${command} --help' for its options.`;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = flagNamed(message);
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const elsewhere = OPTION_SPECS.find((spec) => spec.flag === flag && spec.deprecatedFor === undefined);
      if (elsewhere) {
        return new UsageError(`dfm ${command}: --${flag} is not an option of this command (it belongs to dfm ${elsewhere.commands.join(', dfm ')}). ${help}`, { cause: error });
      }
      const guess = flag === undefined ? undefined : closest(flag, specs.filter((spec) => spec.deprecatedFor === undefined).map((spec) => spec.flag));
      return new UsageError(`dfm ${command}: unknown option ${flag === undefined ? '' : `--${flag}`}.${guess ? ` Did you mean --${guess}?` : ''} ${help}`, { cause: error });
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const spec = specs.find((s) => s.flag === flag || (s.negatable === true && `no-${s.flag}` === flag));
      if (spec?.kind === 'boolean') return new UsageError(`dfm ${command}: --${flag} is a switch and takes no value. ${help}`, { cause: error });
      return new UsageError(
        `dfm ${command}: --${flag ?? '?'} needs a value.${spec?.value !== undefined ? ` Example: --${flag} ${spec.value}.` : ''} A value starting with '-' is written --${flag ?? 'flag'}=-VALUE. ${help}`,
        { cause: error },
      );
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const argument = /'([^']*)'/.exec(message)?.[1] ?? '';
      return new UsageError(`dfm ${command}: unexpected argument '${argument}' — every input is given with a flag (e.g. --input FILE). ${help}`, { cause: error });
    }
    default:
      return new UsageError(`dfm ${command}: ${message}. ${help}`, { cause: error });
  }
}

/** True for a `--pca-level`: a variance ratio in (0, 1) or an integer component count ≥ 1. */
export function isPcaLevel(value: number): boolean {
  return Number.isFinite(value) && ((value > 0 && value < 1) || (Number.isInteger(value) && value >= 1));
}

/** Turns one raw value (a flag's string, or a config file's value) into the option's type. */
export function coerceOption(spec: OptionSpec, value: unknown, where: 'flag' | 'config'): unknown {
  const name = where === 'config' ? `config key '${String(spec.key)}'` : `--${spec.flag}`;
  const bad = (expected: string, fix?: string): never => {
    throw new UsageError(`dfm: ${name} must be ${expected} — got ${JSON.stringify(value)}.${fix === undefined ? '' : ` ${fix}`}`);
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
    case 'paths': {
      const items = Array.isArray(value) ? value : [value];
      if (items.length === 0 || !items.every((item) => typeof item === 'string' && item !== '')) return bad('one or more non-empty paths');
      return items;
    }
    case 'list': {
      const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : null;
      if (items === null) return bad('a comma-separated list');
      const choices = spec.choices;
      const wrong = choices === undefined ? undefined : items.find((item) => !choices.includes(item));
      if (choices !== undefined && wrong !== undefined) {
        const guess = closest(wrong, choices);
        throw new UsageError(`dfm: ${name} must list values among ${choices.join(', ')} — got ${JSON.stringify(wrong)}.${guess ? ` Did you mean ${guess}?` : ''}`);
      }
      return items;
    }
    case 'int':
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (spec.key === 'pcaLevel') {
        if (!isPcaLevel(number)) {
          return bad('a variance ratio in (0, 1) or an integer component count ≥ 1 (1 = one component)', 'Use e.g. 0.97 (keep 97% of the variance) or 16 (16 components).');
        }
        return number;
      }
      const integer = spec.kind === 'int';
      const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = spec;
      if (!Number.isFinite(number) || (integer && !Number.isInteger(number)) || number < min || number > max) {
        const range = spec.min !== undefined && spec.max !== undefined ? ` in [${spec.min}, ${spec.max}]` : spec.min !== undefined ? ` ≥ ${spec.min}` : '';
        return bad(`${integer ? 'an integer' : 'a number'}${range}`);
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

/** The spec of an option by its key (its current name, not a deprecated alias). */
export function specOf(key: keyof CliOptions): OptionSpec {
  const spec = OPTION_SPECS.find((s) => s.key === key && s.deprecatedFor === undefined);
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
  const options = defaultOptions(env);
  // Each value is checked and converted by coerceOption against its spec, which fixes its type.
  const slots: Partial<Record<keyof CliOptions, unknown>> = options;
  const explicit = new Set<keyof CliOptions>();
  const layers: [Partial<Record<keyof CliOptions, unknown>>, 'config' | 'flag'][] = [
    [fromConfig, 'config'],
    [flags, 'flag'],
  ];
  for (const [layer, where] of layers) {
    for (const key of Object.keys(layer) as (keyof CliOptions)[]) {
      const value = layer[key];
      if (value === undefined) continue;
      slots[key] = coerceOption(specOf(key), value, where);
      explicit.add(key);
    }
  }
  return { options, explicit };
}
