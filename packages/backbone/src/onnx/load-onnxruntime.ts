import { isNode, napiBindingPath, nodeBuiltin } from '../node-builtin';
import { InvalidArgumentError } from '@dfm/errors';

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
  env: {
    versions?: Record<string, string>;
    /** onnxruntime-web only: its wasm settings, read once when it first initialises. */
    wasm?: { numThreads?: number; wasmPaths?: unknown; proxy?: boolean };
  };
}

/** The two onnxruntime packages: native (Node only) and WebAssembly (browsers, and Node too). */
export type OnnxruntimePackage = 'onnxruntime-node' | 'onnxruntime-web';

export const ONNXRUNTIME_PACKAGES: readonly OnnxruntimePackage[] = ['onnxruntime-node', 'onnxruntime-web'];

export interface LoadedOnnxruntime {
  ort: OrtModule;
  /** `onnxruntime-node` or `onnxruntime-web`. */
  packageName: OnnxruntimePackage;
  version: string;
  /** onnxruntime-node loaded by name in Node: the path of its main file (worker threads require the same copy). */
  modulePath?: string;
  /** How it was obtained: imported by this package, or passed in as `onnxruntimeModule`. */
  source: 'imported' | 'given';
}

export interface LoadOnnxruntimeOptions {
  /**
   * Folder onnxruntime-node is resolved from (default: this module). Tests point it at an empty
   * folder. onnxruntime-web is always imported by name from this module, as a bundler or a
   * browser's import map resolves it.
   */
  resolveFrom?: string;
  /**
   * Which onnxruntime to use: `'onnxruntime-node'` (native CPU EP; Node only) or `'onnxruntime-web'`
   * (WebAssembly EP; browsers, and Node where the native binding is missing). Default:
   * onnxruntime-node in Node, onnxruntime-web elsewhere.
   */
  onnxruntimePackage?: OnnxruntimePackage;
  /**
   * An onnxruntime module you imported yourself (`import * as ort from 'onnxruntime-web'`), used
   * instead of importing one by name. Needed with browser bundlers: this package imports the
   * optional onnxruntime by a name that bundlers deliberately do not follow (so that a bundle
   * without onnxruntime still builds), and a browser cannot resolve a bare name without an import
   * map. Its package is read from the module (`env.versions`).
   */
  onnxruntimeModule?: unknown;
}

/** onnxruntime-node in Node, onnxruntime-web elsewhere. */
export function defaultOnnxruntimePackage(): OnnxruntimePackage {
  return isNode() ? 'onnxruntime-node' : 'onnxruntime-web';
}

/** The onnxruntime module inside `value` (itself, or its `default` export), if it is one. */
function asOrtModule(value: unknown): OrtModule | undefined {
  for (const candidate of [value, (value as { default?: unknown } | null | undefined)?.default]) {
    const ort = candidate as Partial<OrtModule> | null | undefined;
    if (
      typeof ort === 'object' &&
      ort !== null &&
      typeof ort.InferenceSession?.create === 'function' &&
      typeof ort.Tensor === 'function' &&
      typeof ort.env === 'object'
    ) {
      return ort as OrtModule;
    }
  }
  return undefined;
}

/** The package a loaded module is, from `env.versions` (`web` or `node`). */
function packageOf(ort: OrtModule): OnnxruntimePackage | undefined {
  const versions = ort.env.versions ?? {};
  if (typeof versions.web === 'string') return 'onnxruntime-web';
  if (typeof versions.node === 'string') return 'onnxruntime-node';
  return undefined;
}

/**
 * Checks `onnxruntimePackage` and `onnxruntimeModule`.
 *
 * @param caller the public function, for the message (e.g. `createBackbone('resnet18')`)
 * @throws InvalidArgumentError naming the option, the valid values and what was given
 */
export function checkOnnxruntimeOptions(options: LoadOnnxruntimeOptions, caller: string): void {
  const { onnxruntimePackage, onnxruntimeModule } = options;
  if (onnxruntimePackage !== undefined && !(ONNXRUNTIME_PACKAGES as readonly unknown[]).includes(onnxruntimePackage)) {
    throw new InvalidArgumentError(
      `${caller}: onnxruntimePackage must be ${ONNXRUNTIME_PACKAGES.map((name) => `'${name}'`).join(' or ')} — got ${JSON.stringify(onnxruntimePackage)}. Omit it for the default (onnxruntime-node in Node, onnxruntime-web in a browser).`,
    );
  }
  if (onnxruntimeModule === undefined) return;
  const ort = asOrtModule(onnxruntimeModule);
  if (ort === undefined) {
    const got =
      typeof onnxruntimeModule === 'object' && onnxruntimeModule !== null
        ? `an object with keys ${Object.keys(onnxruntimeModule).slice(0, 8).join(', ') || '(none)'}`
        : JSON.stringify(onnxruntimeModule) ?? typeof onnxruntimeModule;
    throw new InvalidArgumentError(
      `${caller}: onnxruntimeModule must be an onnxruntime module with InferenceSession, Tensor and env — got ${got}. Pass the module itself: import * as ort from 'onnxruntime-web', then { onnxruntimeModule: ort }.`,
    );
  }
  const actual = packageOf(ort);
  if (onnxruntimePackage !== undefined && actual !== undefined && actual !== onnxruntimePackage) {
    throw new InvalidArgumentError(
      `${caller}: onnxruntimePackage must name the package of onnxruntimeModule — got onnxruntimePackage '${onnxruntimePackage}' with a module of ${actual}. Drop onnxruntimePackage (it is read from the module) or pass the other module.`,
    );
  }
}

/** Path of onnxruntime-node's native binding (`bin/napi-v*\/<platform>/<arch>/onnxruntime_binding.node`), if shipped. */
export function onnxruntimeBindingPath(packageJsonPath: string): string | undefined {
  return napiBindingPath(packageJsonPath, 'bin', [process.platform, process.arch, 'onnxruntime_binding.node'], 'onnxruntimeBindingPath()');
}

const loaded = new Map<string, Promise<LoadedOnnxruntime | string>>();

/**
 * Loads onnxruntime when it is installed: by default `onnxruntime-node` in Node (only when its
 * native binding for this platform is present, so an incomplete install is skipped without
 * loading it) and `onnxruntime-web` elsewhere; `onnxruntimePackage` chooses, and
 * `onnxruntimeModule` passes one already imported. `onnxruntime-node` is an optional dependency of
 * `@dfm/backbone` (installed where its install step works), `onnxruntime-web` an optional peer.
 *
 * @returns the module, or a one-line reason why it is not available
 * @throws InvalidArgumentError for an invalid `onnxruntimePackage` or `onnxruntimeModule`
 *
 * @example
 * const loaded = await loadOnnxruntime({ onnxruntimePackage: 'onnxruntime-web' });
 * if (typeof loaded !== 'string') console.log(loaded.packageName, loaded.version); // onnxruntime-web 1.30.0
 */
export async function loadOnnxruntime(options: LoadOnnxruntimeOptions = {}): Promise<LoadedOnnxruntime | string> {
  checkOnnxruntimeOptions(options, 'loadOnnxruntime()');
  if (options.onnxruntimeModule !== undefined) {
    const ort = asOrtModule(options.onnxruntimeModule) as OrtModule;
    const packageName = packageOf(ort) ?? options.onnxruntimePackage ?? defaultOnnxruntimePackage();
    return { ort, packageName, version: versionOf(ort, packageName), source: 'given' };
  }
  const packageName = options.onnxruntimePackage ?? defaultOnnxruntimePackage();
  const key = `${packageName}\0${options.resolveFrom ?? ''}`;
  let promise = loaded.get(key);
  if (promise === undefined) {
    promise = packageName === 'onnxruntime-node' ? loadNode(options.resolveFrom) : loadWeb();
    loaded.set(key, promise);
  }
  return promise;
}

function versionOf(ort: OrtModule, packageName: OnnxruntimePackage): string {
  const versions = ort.env.versions ?? {};
  return versions[packageName === 'onnxruntime-web' ? 'web' : 'node'] ?? versions.common ?? 'unknown';
}

async function loadNode(resolveFrom: string | undefined): Promise<LoadedOnnxruntime | string> {
  const name = 'onnxruntime-node';
  if (!isNode()) return `${name} runs only in Node.js, and this is not Node.js (a browser?): use onnxruntime-web`;
  const { createRequire } = nodeBuiltin('module', 'loadOnnxruntime()');
  const { join } = nodeBuiltin('path', 'loadOnnxruntime()');
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
    return { ort, packageName: name, version, modulePath, source: 'imported' };
  } catch (cause) {
    return `${name} failed to load (${(cause as Error).message.split('\n')[0]})`;
  }
}

/**
 * onnxruntime-web, imported by name: in Node its `node` export (`dist/ort.node.min.mjs`), in a
 * browser whatever the page's import map gives for `onnxruntime-web`.
 */
async function loadWeb(): Promise<LoadedOnnxruntime | string> {
  const name = 'onnxruntime-web';
  let imported: unknown;
  try {
    // A variable specifier keeps bundlers from requiring the optional package at build time; the
    // price is that a bundle cannot resolve it either (hence onnxruntimeModule).
    imported = await import(/* @vite-ignore */ /* webpackIgnore: true */ name);
  } catch (cause) {
    const message = (cause as Error).message.split('\n')[0] ?? '';
    if (isNode()) {
      const missing = (cause as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && message.includes(`'${name}'`);
      return missing ? `${name} not installed` : `${name} failed to load (${message})`;
    }
    return `${name} could not be imported by name (${message}); a bundled app must pass the module it imports as onnxruntimeModule, a page without a bundler must map ${name} in an import map`;
  }
  const ort = asOrtModule(imported);
  if (ort === undefined) return `${name} loaded but is not an onnxruntime module (no InferenceSession)`;
  return { ort, packageName: name, version: versionOf(ort, name), source: 'imported' };
}
