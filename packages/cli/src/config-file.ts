import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './errors';
import { type CliOptions, OPTION_SPECS } from './options';

/** What a config file sets, keyed like {@link CliOptions}, plus notes on keys it ignored. */
export interface ConfigValues {
  values: Partial<Record<keyof CliOptions, unknown>>;
  warnings: string[];
}

/** Keys of anomalib configs that mean nothing here: ignored with a warning rather than refused. */
const IGNORED = new Set([
  'numWorkers', 'task', 'transform', 'trainTransform', 'evalTransform', 'extensions', 'centerCrop', 'normalization',
  'accelerator', 'devices', 'strategy', 'precision', 'logger', 'callbacks', 'maxEpochs', 'numSanityValSteps', 'gradientClipVal',
  'checkValEveryNEpoch', 'logEveryNSteps', 'enableCheckpointing', 'enableProgressBar', 'deterministic', 'benchmark',
  'numNodes', 'fastDevRun', 'limitTrainBatches', 'limitValBatches', 'limitTestBatches', 'limitPredictBatches', 'valCheckInterval',
  'accumulateGradBatches', 'inferenceMode', 'useDistributedSampler', 'profiler', 'detectAnomaly', 'barebones', 'plugins',
  'syncBatchnorm', 'reloadDataloadersEveryNEpochs', 'defaultRootDirFmt', 'metrics', 'visualization', 'normalizationMethod',
  'thresholdMethod', 'ckptPath', 'logging', 'project', 'resultsDirUnique', 'imageMetrics', 'pixelMetrics', 'preProcessor',
  'postProcessor', 'evaluator', 'visualizer',
]);

/** Other names for an option (anomalib's and the library's). */
const ALIASES: Record<string, keyof CliOptions> = {
  root: 'data',
  datasetRoot: 'data',
  trainBatchSize: 'batchSize',
  evalBatchSize: 'batchSize',
  defaultRootDir: 'resultsDir',
  nComps: 'pcaLevel',
  seedEverything: 'seed',
  name: 'category',
};

const KEYS = new Set<string>(OPTION_SPECS.map((spec) => spec.key));

/** `pca_level`, `pca-level` → `pcaLevel`. */
export function camelCase(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Replaces `${VAR}` and `${VAR:-default}` in strings with the environment's values. */
export function interpolate(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new UsageError(`dfm: the config uses \${${name}}, but ${name} is not set. Set it, or write \${${name}:-default}.`);
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Normalises a parsed config into option values. Accepts the CLI's own keys (camelCase,
 * snake_case or kebab-case) at the top level, and anomalib's layout:
 * `model: { class_path, init_args: {...} }`, `data: { class_path, init_args: { root, category, ... } }`,
 * `trainer`/`engine: { default_root_dir }`, `seed_everything`. `runtime` is the backbone's runtime;
 * a string `engine` is its deprecated name (warned about).
 */
export function normalizeConfig(config: unknown, file: string): ConfigValues {
  if (!isObject(config)) {
    throw new UsageError(`dfm: the config ${file} must hold a mapping of options — got ${Array.isArray(config) ? 'a list' : typeof config}. See examples/configs/dfm.yaml.`);
  }
  const values: Partial<Record<keyof CliOptions, unknown>> = {};
  const warnings: string[] = [];
  let preTrained: unknown;

  const put = (rawKey: string, value: unknown, section: string) => {
    const key = camelCase(rawKey);
    const where = section === '' ? rawKey : `${section}.${rawKey}`;
    if (key === 'preTrained') {
      preTrained = value;
      return;
    }
    if (key === 'engine') {
      // The deprecated name of `runtime` (kept for one release); a mapping `engine:` is anomalib's trainer section.
      warnings.push(`config ${file}: ${where} is deprecated; use runtime (same values)`);
      values.runtime = value;
      return;
    }
    const target = (KEYS.has(key) ? key : ALIASES[key]) as keyof CliOptions | undefined;
    if (target !== undefined && !['config', 'help', 'json', 'verbose'].includes(target)) {
      values[target] = value;
      return;
    }
    if (IGNORED.has(key)) {
      warnings.push(`config ${file}: ${where} is not used by dfm; ignored.`);
      return;
    }
    throw new UsageError(
      `dfm: the config ${file} has an unknown key ${where}. Use the CLI's option names (e.g. backbone, layer, pca_level, score_type, data, category, image_size, batch_size) or anomalib's model/data init_args.`,
    );
  };

  const section = (name: string, value: unknown, kind: 'model' | 'data' | 'trainer') => {
    if (kind === 'data' && typeof value === 'string') {
      values.data = value;
      return;
    }
    if (!isObject(value)) {
      throw new UsageError(`dfm: the config ${file} has ${name} = ${JSON.stringify(value)}; a mapping was expected.`);
    }
    const classPath = value.class_path ?? value.classPath;
    if (typeof classPath === 'string') {
      const cls = classPath.split('.').pop() ?? classPath;
      if (kind === 'model' && cls.toLowerCase() !== 'dfm') {
        throw new UsageError(`dfm: the config ${file} names model ${classPath}; only Dfm is implemented here. Use class_path: anomalib.models.Dfm.`);
      }
      if (kind === 'data') {
        if (/folder/i.test(cls)) values.format = 'folder';
        else if (/mvtec/i.test(cls)) values.format = 'mvtec';
        else throw new UsageError(`dfm: the config ${file} names data ${classPath}; MVTecAD and Folder are supported.`);
      }
    }
    const args = value.init_args ?? value.initArgs;
    const entries = isObject(args) ? Object.entries(args) : Object.entries(value).filter(([k]) => k !== 'class_path' && k !== 'classPath');
    for (const [k, v] of entries) put(k, v, isObject(args) ? `${name}.init_args` : name);
  };

  for (const [rawKey, value] of Object.entries(config)) {
    const key = camelCase(rawKey);
    if (key === 'model' && isObject(value)) section(rawKey, value, 'model');
    else if (key === 'data' && (isObject(value) || typeof value === 'string')) section(rawKey, value, 'data');
    else if ((key === 'trainer' || key === 'engine') && isObject(value)) section(rawKey, value, 'trainer');
    else put(rawKey, value, '');
  }
  if (preTrained === false && values.weights === undefined) values.weights = 'random';
  else if (preTrained !== undefined && typeof preTrained !== 'boolean') {
    throw new UsageError(`dfm: the config ${file} has pre_trained = ${JSON.stringify(preTrained)}; true or false was expected.`);
  }
  return { values, warnings };
}

/** Reads a YAML or JSON config file (environment variables `${VAR:-default}` are expanded) into option values. */
export function readConfigFile(path: string, env: Record<string, string | undefined> = process.env): ConfigValues {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UsageError(`dfm: --config ${path} does not exist. Check the path (relative paths start from ${process.cwd()}).`);
  }
  const text = readFileSync(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new UsageError(`dfm: cannot parse the config ${path}: ${(error as Error).message.split('\n')[0]}. Fix the YAML/JSON syntax.`);
  }
  return normalizeConfig(interpolate(parsed, env), path);
}
