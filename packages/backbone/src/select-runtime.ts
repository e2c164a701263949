import { isNode, nodeBuiltin } from './node-builtin';
import {
  defaultOnnxruntimePackage,
  type LoadedOnnxruntime,
  type LoadOnnxruntimeOptions,
  loadOnnxruntime,
  type OnnxruntimePackage,
} from './onnx/load-onnxruntime';
import { nativeBindingPath } from './set-backend';
import { DfmError, InvalidArgumentError } from '@dfm/errors';

/** What executes the backbone network (the "runtime"; "Engine" is the trainer). */
export type RuntimeChoice = 'auto' | 'tfjs' | 'onnxruntime';
/** The runtime that runs. */
export type RuntimeName = 'tfjs' | 'onnxruntime';

export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['auto', 'tfjs', 'onnxruntime'];

export interface SelectRuntimeOptions {
  /** Folder the optional packages are resolved from (default: this module). Tests point it at an empty folder. */
  resolveFrom?: string;
  /** Which onnxruntime package `onnxruntime` and `auto` use (see {@link LoadOnnxruntimeOptions}). */
  onnxruntimePackage?: LoadOnnxruntimeOptions['onnxruntimePackage'];
  /** An onnxruntime module imported by the caller (see {@link LoadOnnxruntimeOptions}). */
  onnxruntimeModule?: unknown;
}

export interface SelectRuntimeResult {
  runtime: RuntimeName;
  /** One line: what was tried and what was found. */
  reason: string;
  /** The tfjs backend the runtime needs (`tensorflow` when auto found tfjs-node-gpu). */
  tfjsBackend?: 'tensorflow';
  /** The loaded onnxruntime, for runtime `onnxruntime`. */
  onnxruntime?: LoadedOnnxruntime;
}

/** How to get the onnxruntime that was not found. */
function onnxruntimeHint(packageName: OnnxruntimePackage): string {
  if (!isNode()) {
    return "In a browser: npm install onnxruntime-web, import * as ort from 'onnxruntime-web' and pass { onnxruntimeModule: ort } (see docs/browser.md), or use runtime: 'tfjs'.";
  }
  return packageName === 'onnxruntime-node'
    ? "Install it next to @dfm/backbone (npm install onnxruntime-node; in a browser, onnxruntime-web), or use runtime: 'tfjs'."
    : "Install it next to @dfm/backbone (npm install onnxruntime-web), or use runtime: 'tfjs'.";
}

/** True when `@tensorflow/tfjs-node-gpu` is installed with its native binding. */
function hasTfjsNodeGpu(resolveFrom: string | undefined): boolean {
  if (!isNode()) return false;
  const { createRequire } = nodeBuiltin('module', 'selectRuntime()');
  const { join } = nodeBuiltin('path', 'selectRuntime()');
  const require = createRequire(resolveFrom !== undefined ? join(resolveFrom, 'noop.js') : import.meta.url);
  try {
    return nativeBindingPath(require.resolve('@tensorflow/tfjs-node-gpu/package.json')) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Chooses the backbone's runtime. `auto`: tfjs when `@tensorflow/tfjs-node-gpu` is
 * installed (CUDA through libtensorflow), else onnxruntime when installed (`onnxruntime-node` in
 * Node, `onnxruntime-web` in a browser, or as `onnxruntimePackage` / `onnxruntimeModule` say), else
 * tfjs (on its current backend, wasm by default).
 *
 * @example
 * const { runtime, reason } = await selectRuntime('auto'); // e.g. { runtime: 'onnxruntime', reason: 'auto: ...' }
 */
export async function selectRuntime(choice: string = 'auto', options: SelectRuntimeOptions = {}): Promise<SelectRuntimeResult> {
  const normalised = String(choice).trim().toLowerCase();
  if (!(RUNTIME_CHOICES as readonly string[]).includes(normalised)) {
    throw new InvalidArgumentError(
      `selectRuntime(): runtime must be one of ${RUNTIME_CHOICES.join(', ')} — got ${JSON.stringify(choice)}. Use 'auto' to pick the fastest installed one.`,
    );
  }
  if (normalised === 'tfjs') return { runtime: 'tfjs', reason: 'tfjs: requested' };
  if (normalised === 'onnxruntime') {
    const loaded = await loadOnnxruntime(options);
    if (typeof loaded === 'string') {
      const packageName = options.onnxruntimePackage ?? defaultOnnxruntimePackage();
      throw new DfmError(`createBackbone(): runtime 'onnxruntime' needs onnxruntime — ${loaded}. ${onnxruntimeHint(packageName)}`, { code: 'E_RUNTIME_UNAVAILABLE' });
    }
    return { runtime: 'onnxruntime', reason: 'onnxruntime: requested', onnxruntime: loaded };
  }
  if (hasTfjsNodeGpu(options.resolveFrom)) {
    return {
      runtime: 'tfjs',
      reason: 'auto: @tensorflow/tfjs-node-gpu installed, so tfjs on libtensorflow (CUDA)',
      tfjsBackend: 'tensorflow',
    };
  }
  const loaded = await loadOnnxruntime(options);
  if (typeof loaded !== 'string') {
    return {
      runtime: 'onnxruntime',
      reason: `auto: onnxruntime (${loaded.packageName} ${loaded.version}; tfjs-node-gpu not installed)`,
      onnxruntime: loaded,
    };
  }
  return { runtime: 'tfjs', reason: `auto: tfjs (${loaded}; tfjs-node-gpu not installed)` };
}
