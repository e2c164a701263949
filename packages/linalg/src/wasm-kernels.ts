import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from './kernels-wasm';

/**
 * The WebAssembly kernels of `assembly/kernels.ts` (internal): compiled once per process, instantiated on a
 * memory the caller sizes. Used by the dense eigensolver (`dense-eigen.ts`) and by the Cholesky QR of
 * `top-eigenpairs.ts`.
 */

/** The parts of the WebAssembly JS API used here (the package's TypeScript lib has no DOM types). */
export type WasmMemory = { readonly buffer: ArrayBuffer; grow(pages: number): number };
export type WasmApi = {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
};

/** The exports of `assembly/kernels.ts` (byte offsets into `memory`). */
export type Kernels = {
  memory: WasmMemory;
  firstStep(a: number, n: number, k0: number, d: number, e: number, taus: number, y: number): void;
  stepHead(a: number, n: number, k: number, d: number, e: number, taus: number, y: number, w: number): number;
  stepRows(a: number, n: number, k: number, i0: number, i1: number, y: number, w: number): void;
  addInto(y: number, other: number, from: number, n: number): void;
  applyBlock(a: number, n: number, kLow: number, kHigh: number, taus: number, z: number, stride: number, c0: number, c1: number, g: number, s: number, p: number): void;
  inverseCholesky(g: number, b: number, pivotFloor: number, l: number, inv: number): number;
  bisectGroup(
    d: number,
    e2: number,
    n: number,
    j: number,
    group: number,
    lo: number,
    hi: number,
    tolerance: number,
    epsilon: number,
    pivotFloor: number,
    probes: number,
    counts: number,
  ): void;
  inverseVector(d: number, e: number, n: number, lambda: number, tiny: number, iterations: number, z: number, stride: number, j: number, clusterStart: number, lu: number, rng: number): number;
  columnSums(rows: number, count: number, d: number, sums: number): void;
  centreChunk(chunk: number, rows: number, chunkLength: number, width: number, mean: number, scale: number): number;
};

const compiled: { plain?: object | null; shared?: object | null } = {};

export function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/** A compiled kernels' module (`shared`: importing a shared memory), or null where it cannot be compiled. */
export function kernelsModule(shared = false): object | null {
  const key = shared ? 'shared' : 'plain';
  const known = compiled[key];
  if (known !== undefined) return known;
  try {
    const text = atob(shared ? KERNELS_SHARED_WASM_BASE64 : KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    // Synchronous compilation of the ~6 KB module (Chromium 156 accepts it on its main thread: tested).
    compiled[key] = new (wasmApi()!.Module)(bytes);
  } catch {
    compiled[key] = null;
  }
  return compiled[key]!;
}

/** Whether the WebAssembly kernels can run here (PCA uses its other solvers where they cannot). */
export function denseKernelsAvailable(): boolean {
  return kernelsModule() !== null;
}

/** A fresh instance of `module` on `memory`. */
export function instantiate(module: object, memory: WasmMemory): Kernels {
  const instance = new (wasmApi()!.Instance)(module, { env: { memory } });
  return { memory, ...(instance.exports as unknown as Omit<Kernels, 'memory'>) };
}


/**
 * R⁻¹ of the Cholesky factor of the symmetric positive definite `[b, b]` row-major `gram`, in WebAssembly
 * (the `inverseCholesky` kernel): null when a pivot falls to `pivotFloor` × the largest diagonal entry or
 * below (or R⁻¹ is not finite), undefined where the kernels cannot run.
 */
export function inverseCholeskyWasm(gram: Float64Array, b: number, pivotFloor: number): Float64Array | null | undefined {
  const module = kernelsModule();
  const api = wasmApi();
  if (module === null || api === undefined) return undefined;
  const bytes = b * b * 8;
  const memory = new api.Memory({ initial: Math.ceil((3 * bytes) / 65536) + 1 });
  const kernels = instantiate(module, memory);
  new Float64Array(memory.buffer, 0, b * b).set(gram);
  return kernels.inverseCholesky(0, b, pivotFloor, bytes, 2 * bytes) === 1 ? new Float64Array(memory.buffer, 2 * bytes, b * b).slice() : null;
}
