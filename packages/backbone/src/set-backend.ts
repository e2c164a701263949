import * as tf from '@tensorflow/tfjs-core';
import { environmentVariable, isNode, napiBindingPath, nodeBuiltin } from './node-builtin';
import { DfmError, InvalidArgumentError } from '@dfm/errors';

/** Which tfjs backend to run on; `tensorflow` is libtensorflow through tfjs-node(-gpu). */
export type BackendChoice = 'auto' | 'wasm' | 'cpu' | 'tensorflow';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow'];

export interface SetBackendResult {
  /** The tfjs backend now active: `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** Why: what was tried and what was found, in one line. */
  reason: string;
}

export interface SetBackendOptions {
  /**
   * Folder (or file) from which the optional native packages are resolved. Default: this module.
   * Tests point it at a fake `node_modules`.
   */
  resolveFrom?: string;
}

/** The native packages, in the order `auto` tries them. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const INSTALL_HINT =
  'Install @tensorflow/tfjs-node 4.22 (CPU) or @tensorflow/tfjs-node-gpu 4.22 (CUDA) next to @dfm/backbone; their install downloads libtensorflow, so it needs network access.';

/**
 * Selects the tfjs backend. `auto` tries `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`
 * (each only when installed with its native binding file present, so a broken install is skipped
 * without loading it), then wasm (SIMD when the runtime has it), then cpu. The default choice is
 * `$DFM_BACKEND`, else `auto`.
 *
 * @returns the backend chosen and a one-line reason (what was tried)
 *
 * @example
 * const { backend, reason } = await setBackend(); // e.g. { backend: 'wasm', reason: 'auto: ... wasm (SIMD, 1 thread)' }
 */
export async function setBackend(
  choice: string = environmentVariable('DFM_BACKEND') ?? 'auto',
  options: SetBackendOptions = {},
): Promise<SetBackendResult> {
  const normalised = choice.trim().toLowerCase();
  if (!(BACKEND_CHOICES as readonly string[]).includes(normalised)) {
    throw new InvalidArgumentError(
      `setBackend(): backend must be one of ${BACKEND_CHOICES.join(', ')} — got ${JSON.stringify(choice)}. Fix the argument or DFM_BACKEND.`,
    );
  }
  const resolveFrom = options.resolveFrom;
  switch (normalised as BackendChoice) {
    case 'cpu':
      return { backend: 'cpu', reason: `cpu: ${await useCpu()}` };
    case 'wasm': {
      const detail = await useWasm();
      if (detail.ok) return { backend: 'wasm', reason: `wasm: ${detail.message}` };
      throw new DfmError(`setBackend('wasm'): the wasm backend must initialise — ${detail.message}. Use 'cpu' instead.`, { code: 'E_RUNTIME_UNAVAILABLE' });
    }
    case 'tensorflow': {
      const notes: string[] = [];
      for (const name of NATIVE_PACKAGES) {
        const result = await useNative(name, resolveFrom);
        if (result.ok) return { backend: 'tensorflow', reason: `tensorflow: ${result.message}` };
        notes.push(result.message);
      }
      throw new DfmError(`setBackend('tensorflow'): needs @tensorflow/tfjs-node or -gpu — ${notes.join('; ')}. ${INSTALL_HINT}`, { code: 'E_RUNTIME_UNAVAILABLE' });
    }
    case 'auto': {
      const notes: string[] = [];
      for (const name of NATIVE_PACKAGES) {
        const result = await useNative(name, resolveFrom);
        if (result.ok) return { backend: 'tensorflow', reason: `auto: ${[...notes, result.message].join('; ')}` };
        notes.push(result.message);
      }
      const wasm = await useWasm();
      if (wasm.ok) return { backend: 'wasm', reason: `auto: ${[...notes, `wasm ${wasm.message}`].join('; ')}` };
      notes.push(`wasm failed: ${wasm.message}`);
      const cpu = await useCpu();
      return { backend: 'cpu', reason: `auto: ${[...notes, cpu].join('; ')}` };
    }
  }
}

interface Attempt {
  ok: boolean;
  message: string;
}

/** True when the package's compiled binding (`lib/napi-v*\/tfjs_binding.node`) exists. */
export function nativeBindingPath(packageJsonPath: string): string | undefined {
  return napiBindingPath(packageJsonPath, 'lib', ['tfjs_binding.node'], 'nativeBindingPath()');
}

async function useNative(name: string, resolveFrom: string | undefined): Promise<Attempt> {
  if (!isNode()) return { ok: false, message: `${name} needs Node.js` };
  const { createRequire } = nodeBuiltin('module', 'setBackend()');
  const { join } = nodeBuiltin('path', 'setBackend()');
  const base = resolveFrom !== undefined ? join(resolveFrom, 'noop.js') : import.meta.url;
  const require = createRequire(base);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${name}/package.json`);
  } catch {
    return { ok: false, message: `${name} not installed` };
  }
  if (nativeBindingPath(packageJson) === undefined) {
    return { ok: false, message: `${name} installed but its binding file lib/napi-v*/tfjs_binding.node is missing (install incomplete)` };
  }
  try {
    require(name);
  } catch (cause) {
    return { ok: false, message: `${name} failed to load (${(cause as Error).message.split('\n')[0]})` };
  }
  if (!tf.engine().registryFactory.tensorflow) {
    return {
      ok: false,
      message: `${name} loaded but registered its backend on another copy of @tensorflow/tfjs-core (use tfjs-core ${tf.version_core} everywhere)`,
    };
  }
  if (!(await tf.setBackend('tensorflow'))) return { ok: false, message: `${name} failed to initialise` };
  await tf.ready();
  return { ok: true, message: `${name} loaded (libtensorflow)` };
}

async function useWasm(): Promise<Attempt> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return { ok: false, message: 'initialisation failed (is the .wasm file shipped?)' };
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = wasm.getThreadsCount();
    return { ok: true, message: `(${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})` };
  } catch (cause) {
    return { ok: false, message: (cause as Error).message };
  }
}

async function useCpu(): Promise<string> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new DfmError('setBackend(): the cpu backend must initialise — it did not. Report this as a bug.', { code: 'E_INTERNAL' });
  await tf.ready();
  // The cpu backend greets Node users once on first use ("Hi, looks like you are running TensorFlow.js
  // in Node.js"); we have already chosen, so skip it.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend.firstUse === true) backend.firstUse = false;
  return 'pure JavaScript (slow: use it for tiny inputs)';
}
