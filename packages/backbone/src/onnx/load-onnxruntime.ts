import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The parts of onnxruntime's API this package uses (onnxruntime-common's shapes). */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
  dispose?(): void;
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: Record<string, string> };
}

export interface LoadedOnnxruntime {
  ort: OrtModule;
  /** `onnxruntime-node` or `onnxruntime-web`. */
  packageName: string;
  version: string;
  /** Node: the resolved path of the package's main file (worker threads require the same copy). */
  modulePath?: string;
}

export interface LoadOnnxruntimeOptions {
  /** Folder the package is resolved from (default: this module). Tests point it at an empty folder. */
  resolveFrom?: string;
}

/** True in Node.js (and Bun/Deno's Node layer), false in browsers. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Path of onnxruntime-node's native binding (`bin/napi-v*\/<platform>/<arch>/onnxruntime_binding.node`), if shipped. */
export function onnxruntimeBindingPath(packageJsonPath: string): string | undefined {
  const bin = join(dirname(packageJsonPath), 'bin');
  if (!existsSync(bin)) return undefined;
  for (const entry of readdirSync(bin)) {
    const candidate = join(bin, entry, process.platform, process.arch, 'onnxruntime_binding.node');
    if (entry.startsWith('napi-v') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

const loaded = new Map<string, Promise<LoadedOnnxruntime | string>>();

/**
 * Loads onnxruntime when it is installed: `onnxruntime-node` in Node (only when its native binding
 * for this platform is present, so an incomplete install is skipped without loading it),
 * `onnxruntime-web` in a browser. Both are optional peer dependencies.
 *
 * @returns the module, or a one-line reason why it is not available
 */
export function loadOnnxruntime(options: LoadOnnxruntimeOptions = {}): Promise<LoadedOnnxruntime | string> {
  const key = options.resolveFrom ?? '';
  let promise = loaded.get(key);
  if (promise === undefined) {
    promise = isNode() ? loadNode(options.resolveFrom) : loadWeb();
    loaded.set(key, promise);
  }
  return promise;
}

async function loadNode(resolveFrom: string | undefined): Promise<LoadedOnnxruntime | string> {
  const name = 'onnxruntime-node';
  const require = createRequire(resolveFrom !== undefined ? join(resolveFrom, 'noop.js') : import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${name}/package.json`);
  } catch {
    return `${name} not installed`;
  }
  if (onnxruntimeBindingPath(packageJson) === undefined) {
    return `${name} installed but has no binding for ${process.platform}/${process.arch} (bin/napi-v*/…/onnxruntime_binding.node)`;
  }
  try {
    const modulePath = require.resolve(name);
    const ort = require(modulePath) as OrtModule;
    const version = (require(`${name}/package.json`) as { version: string }).version;
    return { ort, packageName: name, version, modulePath };
  } catch (cause) {
    return `${name} failed to load (${(cause as Error).message.split('\n')[0]})`;
  }
}

async function loadWeb(): Promise<LoadedOnnxruntime | string> {
  const name = 'onnxruntime-web';
  try {
    // A variable specifier keeps bundlers from requiring the optional package at build time.
    const ort = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as OrtModule & { default?: OrtModule };
    const module = ort.InferenceSession ? ort : (ort.default as OrtModule);
    return { ort: module, packageName: name, version: module.env.versions?.web ?? 'unknown' };
  } catch (cause) {
    return `${name} not available (${(cause as Error).message.split('\n')[0]})`;
  }
}
