import { DfmError, InvalidArgumentError } from '@dfm/linalg';
import { isNode, nodeBuiltin } from './node-builtin';
import {
  defaultOnnxruntimePackage,
  type LoadedOnnxruntime,
  type LoadOnnxruntimeOptions,
  loadOnnxruntime,
  type OnnxruntimePackage,
} from './onnx/load-onnxruntime';
import { nativeBindingPath } from './set-backend';

/** Which execution engine runs the backbone. */
export type EngineChoice = 'auto' | 'tfjs' | 'onnxruntime';
/** The engine that runs. */
export type EngineName = 'tfjs' | 'onnxruntime';

export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'tfjs', 'onnxruntime'];

export interface SelectEngineOptions {
  /** Folder the optional packages are resolved from (default: this module). Tests point it at an empty folder. */
  resolveFrom?: string;
  /** Which onnxruntime engine `onnxruntime` and `auto` use (see {@link LoadOnnxruntimeOptions}). */
  onnxruntimePackage?: LoadOnnxruntimeOptions['onnxruntimePackage'];
  /** An onnxruntime module imported by the caller (see {@link LoadOnnxruntimeOptions}). */
  onnxruntimeModule?: unknown;
}

export interface SelectEngineResult {
  engine: EngineName;
  /** One line: what was tried and what was found. */
  reason: string;
  /** The tfjs backend the engine needs (`tensorflow` when auto found tfjs-node-gpu). */
  tfjsBackend?: 'tensorflow';
  /** The loaded onnxruntime, for engine `onnxruntime`. */
  onnxruntime?: LoadedOnnxruntime;
}

/** How to get the onnxruntime that was not found. */
function onnxruntimeHint(packageName: OnnxruntimePackage): string {
  if (!isNode()) {
    return "In a browser: npm install onnxruntime-web, import * as ort from 'onnxruntime-web' and pass { onnxruntimeModule: ort } (see docs/browser.md), or use engine: 'tfjs'.";
  }
  return packageName === 'onnxruntime-node'
    ? "Install it next to @dfm/backbone (npm install onnxruntime-node; in a browser, onnxruntime-web), or use engine: 'tfjs'."
    : "Install it next to @dfm/backbone (npm install onnxruntime-web), or use engine: 'tfjs'.";
}

/** True when `@tensorflow/tfjs-node-gpu` is installed with its native binding. */
function hasTfjsNodeGpu(resolveFrom: string | undefined): boolean {
  if (!isNode()) return false;
  const { createRequire } = nodeBuiltin('module', 'selectEngine()');
  const { join } = nodeBuiltin('path', 'selectEngine()');
  const require = createRequire(resolveFrom !== undefined ? join(resolveFrom, 'noop.js') : import.meta.url);
  try {
    return nativeBindingPath(require.resolve('@tensorflow/tfjs-node-gpu/package.json')) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Chooses the backbone's execution engine. `auto`: tfjs when `@tensorflow/tfjs-node-gpu` is
 * installed (CUDA through libtensorflow), else onnxruntime when installed (`onnxruntime-node` in
 * Node, `onnxruntime-web` in a browser, or as `onnxruntimePackage` / `onnxruntimeModule` say), else
 * tfjs (on its current backend, wasm by default).
 *
 * @example
 * const { engine, reason } = await selectEngine('auto'); // e.g. { engine: 'onnxruntime', reason: 'auto: ...' }
 */
export async function selectEngine(choice: string = 'auto', options: SelectEngineOptions = {}): Promise<SelectEngineResult> {
  const normalised = String(choice).trim().toLowerCase();
  if (!(ENGINE_CHOICES as readonly string[]).includes(normalised)) {
    throw new InvalidArgumentError(
      `selectEngine(): engine must be one of ${ENGINE_CHOICES.join(', ')} — got ${JSON.stringify(choice)}. Use 'auto' to pick the fastest installed one.`,
    );
  }
  if (normalised === 'tfjs') return { engine: 'tfjs', reason: 'tfjs: requested' };
  if (normalised === 'onnxruntime') {
    const loaded = await loadOnnxruntime(options);
    if (typeof loaded === 'string') {
      const packageName = options.onnxruntimePackage ?? defaultOnnxruntimePackage();
      throw new DfmError(`createBackbone(): engine 'onnxruntime' needs onnxruntime — ${loaded}. ${onnxruntimeHint(packageName)}`);
    }
    return { engine: 'onnxruntime', reason: 'onnxruntime: requested', onnxruntime: loaded };
  }
  if (hasTfjsNodeGpu(options.resolveFrom)) {
    return {
      engine: 'tfjs',
      reason: 'auto: @tensorflow/tfjs-node-gpu installed, so tfjs on libtensorflow (CUDA)',
      tfjsBackend: 'tensorflow',
    };
  }
  const loaded = await loadOnnxruntime(options);
  if (typeof loaded !== 'string') {
    return {
      engine: 'onnxruntime',
      reason: `auto: onnxruntime (${loaded.packageName} ${loaded.version}; tfjs-node-gpu not installed)`,
      onnxruntime: loaded,
    };
  }
  return { engine: 'tfjs', reason: `auto: tfjs (${loaded}; tfjs-node-gpu not installed)` };
}
