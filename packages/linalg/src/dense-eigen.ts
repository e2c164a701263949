import { KERNELS_WASM_BASE64 } from './kernels-wasm';
import { eigenvaluesOfTridiagonal } from './eigh';
import { uniformSource } from './top-eigenpairs';
import { DfmError } from '@dfm/errors';

/**
 * The leading eigenpairs of a dense symmetric matrix, LAPACK's way (internal; PCA's Gram route, see
 * `pca-solver.ts`): Householder reduction to tridiagonal form T = Qᵀ A Q in WebAssembly (the O(n³) part:
 * `assembly/kernels.ts`), every eigenvalue of T by implicit QL (O(n²), JavaScript), the eigenvectors of
 * only the leading ones by inverse iteration on T (O(n) each; vectors of close eigenvalues made
 * orthogonal, as LAPACK's DSTEIN does), and back to A's basis through the stored reflectors (WebAssembly).
 *
 * Against the subspace iteration (`top-eigenpairs.ts`), which needs O(n²·b) per cycle and tens of cycles
 * when the spectrum decays slowly: 4/3·n³ flops once, whatever the spectrum. Measured on 2 cores
 * (docs/benchmarks.md, "PCA at scale"): the reduction runs at ~9 GFLOP/s unblocked.
 *
 * Accuracy: backward stable like LAPACK's DSYEV route: eigenvalues to a few ε·‖A‖, eigenvectors to
 * ε·‖A‖ / gap.
 */

/** The parts of the WebAssembly JS API used here (the package's TypeScript lib has no DOM types). */
type WasmMemory = { readonly buffer: ArrayBuffer; grow(pages: number): number };
type WasmApi = {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
};

/** The exports of `assembly/kernels.ts` (byte offsets into `memory`). */
type Kernels = {
  memory: WasmMemory;
  firstStep(a: number, n: number, k0: number, d: number, e: number, taus: number, y: number): void;
  fusedStep(a: number, n: number, k: number, d: number, e: number, taus: number, y: number, w: number): void;
  applyReflector(a: number, n: number, k: number, taus: number, z: number, m: number, t: number): void;
};

let compiled: object | null | undefined;

function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/** The compiled kernels' module, or null where WebAssembly (with SIMD) is not available. */
function kernelsModule(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    const text = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    // Synchronous compilation: the module is under 4 KiB, the limit browsers allow on their main thread.
    compiled = new (wasmApi()!.Module)(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

/** Whether the WebAssembly kernels can run here (PCA uses its other solvers where they cannot). */
export function denseKernelsAvailable(): boolean {
  return kernelsModule() !== null;
}

/** A fresh instance with its own memory of at least `bytes` (freed with the instance when dropped). */
function instantiate(bytes: number): Kernels {
  const module = kernelsModule();
  const api = wasmApi();
  if (module === null || api === undefined) {
    throw new DfmError('dense eigensolver: WebAssembly with SIMD is not available here. Use eigh() instead.', { code: 'E_RUNTIME_UNAVAILABLE' });
  }
  const memory = new api.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const instance = new api.Instance(module, { env: { memory } });
  return { memory, ...(instance.exports as unknown as Omit<Kernels, 'memory'>) };
}

/** The leading eigenpairs of {@link denseEigen}. */
export type DenseEigen = {
  /** All n eigenvalues, descending. */
  values: Float64Array;
  /** `[n, count]` row-major: unit eigenvectors of `values[0…count−1]` as columns. */
  vectors(count: number): Float64Array;
};

/**
 * See the module description. Write the symmetric `[n, n]` row-major matrix into {@link matrix} (a view of
 * the WebAssembly memory: the caller fills it in place, no copy; only its upper triangle is read), then
 * {@link solve} once.
 */
export class DenseSymmetricSolver {
  /** `[n, n]` row-major float64, to be filled by the caller; overwritten by {@link solve}. */
  readonly matrix: Float64Array;
  readonly #n: number;
  readonly #kernels: Kernels;
  readonly #at: { a: number; d: number; e: number; tau: number; y: number; w: number; end: number };

  constructor(n: number) {
    this.#n = n;
    // Layout (bytes, 16-aligned): A [n²], d, e, τ, y, w [n each]; Z and its work vector after them.
    let offset = 0;
    const take = (count: number) => {
      const at = offset;
      offset += Math.ceil((count * 8) / 16) * 16;
      return at;
    };
    const a = take(n * n);
    this.#at = { a, d: take(n), e: take(n), tau: take(n), y: take(n), w: take(n), end: 0 };
    this.#at.end = offset;
    this.#kernels = instantiate(offset);
    this.matrix = new Float64Array(this.#kernels.memory.buffer, a, n * n);
  }

  /**
   * Reduces, then solves for every eigenvalue; `onFraction` gets the share of the reduction's flops done
   * (about 20 reports, the last 1). Eigenvectors come on demand from the result.
   */
  solve(onFraction?: (fraction: number) => void): DenseEigen {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    kernels.firstStep(at.a, n, 0, at.d, at.e, at.tau, at.y);
    const every = Math.max(1, Math.ceil(n / 20));
    for (let k = 0; k < n - 1; k++) {
      kernels.fusedStep(at.a, n, k, at.d, at.e, at.tau, at.y, at.w);
      // Step k costs ∝ (n − k)²: the share done after it is 1 − ((n − k − 2) / (n − 1))³.
      if (onFraction !== undefined && ((k + 1) % every === 0 || k === n - 2)) onFraction(k === n - 2 ? 1 : 1 - ((n - k - 2) / (n - 1)) ** 3);
    }
    // T divided by a power of two near its largest entry (exact; the reduction itself is scale-free): the
    // inverse iteration's solves then grow vectors to at most ~1/ε, far from overflow, whatever A's magnitude.
    const diagonal = new Float64Array(kernels.memory.buffer, at.d, n).slice();
    const offDiagonal = new Float64Array(n);
    offDiagonal.set(new Float64Array(kernels.memory.buffer, at.e, Math.max(0, n - 1)));
    let largest = 0;
    for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(diagonal[i]!), Math.abs(offDiagonal[i]!));
    const scale = largest > 0 && Number.isFinite(largest) ? 2 ** Math.round(Math.log2(largest)) : 1;
    if (scale !== 1) {
      for (let i = 0; i < n; i++) {
        diagonal[i] = diagonal[i]! / scale;
        offDiagonal[i] = offDiagonal[i]! / scale;
      }
    }
    const scaledValues = eigenvaluesOfTridiagonal(diagonal.slice(), offDiagonal.slice(), n).sort().reverse();
    return {
      values: scaledValues.map((value) => value * scale),
      vectors(count) {
        if (count === 0) return new Float64Array(0);
        const z = tridiagonalEigenvectors(diagonal, offDiagonal, scaledValues, n, count);
        // Z into the memory (grown as needed), then Q Z there.
        const zBytes = n * count * 8;
        const zAt = at.end;
        const need = zAt + zBytes + Math.ceil((count * 8) / 16) * 16 - kernels.memory.buffer.byteLength;
        if (need > 0) kernels.memory.grow(Math.ceil(need / 65536));
        new Float64Array(kernels.memory.buffer, zAt, n * count).set(z);
        for (let k = n - 2; k >= 0; k--) kernels.applyReflector(at.a, n, k, at.tau, zAt, count, zAt + zBytes);
        return new Float64Array(kernels.memory.buffer, zAt, n * count).slice();
      },
    };
  }
}

/** {@link DenseSymmetricSolver} of a copy of `matrix` (`[n, n]` row-major symmetric float64, not modified). */
export function denseEigen(matrix: Float64Array, n: number): DenseEigen {
  const solver = new DenseSymmetricSolver(n);
  solver.matrix.set(matrix);
  return solver.solve();
}

/**
 * Unit eigenvectors of the symmetric tridiagonal (d, e) for its `count` largest eigenvalues `values`
 * (descending, from {@link eigenvaluesOfTridiagonal}), as `[n, count]` row-major: inverse iteration, with
 * the vectors of eigenvalues closer than {@link CLUSTER}·‖T‖ made orthogonal to each other (modified Gram–Schmidt each
 * iteration), and equal eigenvalues pulled apart by 10·ε·‖T‖ so their solves differ (LAPACK's DSTEIN scheme).
 */
export function tridiagonalEigenvectors(d: Float64Array, e: Float64Array, values: Float64Array, n: number, count: number): Float64Array {
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + (i < n - 1 ? Math.abs(e[i]!) : 0) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const out = new Float64Array(n * count);
  if (n === 1 || !(norm > 0)) {
    // T = 0 (or 1 × 1): every unit vector is an eigenvector.
    for (let j = 0; j < count; j++) out[j * count + j] = 1;
    return out;
  }
  const epsilon = 2 ** -52;
  const separation = CLUSTER * norm;
  const perturbation = 10 * epsilon * Math.max(norm, Number.MIN_VALUE);
  const tiny = epsilon * Math.max(norm, Number.MIN_VALUE);
  const factors = new TridiagonalLU(n);
  const columns: Float64Array[] = [];
  let clusterStart = 0;
  let previous = Number.POSITIVE_INFINITY;
  const uniform = uniformSource(0x2545f491);
  const random = () => uniform() - 0.5;
  for (let j = 0; j < count; j++) {
    let lambda = values[j]!;
    if (j > 0 && previous - lambda < perturbation) lambda = previous - perturbation;
    if (j === 0 || previous - lambda > separation) clusterStart = j;
    previous = lambda;
    factors.factor(d, e, lambda, tiny);
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = random();
    for (let iteration = 0; iteration < INVERSE_ITERATIONS; iteration++) {
      normalise(x);
      factors.solve(x);
      for (let q = clusterStart; q < j; q++) {
        const other = columns[q]!;
        let dot = 0;
        for (let i = 0; i < n; i++) dot += other[i]! * x[i]!;
        for (let i = 0; i < n; i++) x[i] = x[i]! - dot * other[i]!;
      }
    }
    if (!normalise(x)) {
      throw new DfmError(`dense eigensolver: inverse iteration failed for eigenvalue ${j} (${values[j]}): the vector vanished. Report this input.`, {
        code: 'E_NO_CONVERGENCE',
      });
    }
    columns.push(x);
    for (let i = 0; i < n; i++) out[i * count + j] = x[i]!;
  }
  return out;
}

/**
 * Eigenvalues closer than this × ‖T‖ form a cluster whose vectors are made orthogonal. Inverse iteration
 * leaves a vector's error at ~ε‖T‖/gap, so vectors of eigenvalues further apart than 10⁻⁷‖T‖ are orthogonal
 * to ~2·10⁻⁹ already. (LAPACK's DSTEIN takes 10⁻³‖T‖: on a PCA's slowly decaying spectrum nearly every
 * leading vector would then be orthogonalised against all the others, O(n·count²).)
 */
const CLUSTER = 1e-7;

/** Solves with T − λI per eigenvalue: 3 from a random start (the growth per solve is ~gap / (ε‖T‖)). */
const INVERSE_ITERATIONS = 3;

/** x / ‖x‖₂ in place; false when x is zero or not finite. */
function normalise(x: Float64Array): boolean {
  let largest = 0;
  for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i]!));
  if (!(largest > 0) || !Number.isFinite(largest)) return false;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const value = x[i]! / largest;
    x[i] = value;
    sum += value * value;
  }
  const inverse = 1 / Math.sqrt(sum);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * inverse;
  return true;
}

/**
 * LU with partial pivoting of the tridiagonal T − λI (rows i and i+1 swapped when the subdiagonal entry is
 * the larger): U has two superdiagonals. Pivots below `tiny` in magnitude are replaced by ±tiny (T − λI
 * is singular to working precision at an eigenvalue, which is what inverse iteration exploits).
 */
class TridiagonalLU {
  private readonly u0: Float64Array;
  private readonly u1: Float64Array;
  private readonly u2: Float64Array;
  private readonly multipliers: Float64Array;
  private readonly swapped: Uint8Array;

  constructor(private readonly n: number) {
    this.u0 = new Float64Array(n);
    this.u1 = new Float64Array(n);
    this.u2 = new Float64Array(n);
    this.multipliers = new Float64Array(n);
    this.swapped = new Uint8Array(n);
  }

  factor(d: Float64Array, e: Float64Array, lambda: number, tiny: number): void {
    const { n, u0, u1, u2, multipliers, swapped } = this;
    // The row still being eliminated: (p at column i, q at column i + 1).
    let p = d[0]! - lambda;
    let q = n > 1 ? e[0]! : 0;
    for (let i = 0; i < n - 1; i++) {
      const below = e[i]!;
      const nextDiagonal = d[i + 1]! - lambda;
      const nextSuper = i + 1 < n - 1 ? e[i + 1]! : 0;
      if (Math.abs(p) >= Math.abs(below)) {
        const pivot = Math.abs(p) < tiny ? (p >= 0 ? tiny : -tiny) : p;
        const m = below / pivot;
        u0[i] = pivot;
        u1[i] = q;
        u2[i] = 0;
        multipliers[i] = m;
        swapped[i] = 0;
        p = nextDiagonal - m * q;
        q = nextSuper;
      } else {
        const m = p / below;
        u0[i] = below;
        u1[i] = nextDiagonal;
        u2[i] = nextSuper;
        multipliers[i] = m;
        swapped[i] = 1;
        p = q - m * nextDiagonal;
        q = -m * nextSuper;
      }
    }
    u0[n - 1] = Math.abs(p) < tiny ? (p >= 0 ? tiny : -tiny) : p;
  }

  /** x ← (T − λI)⁻¹ x in place. */
  solve(x: Float64Array): void {
    const { n, u0, u1, u2, multipliers, swapped } = this;
    for (let i = 0; i < n - 1; i++) {
      if (swapped[i] === 1) {
        const t = x[i]!;
        x[i] = x[i + 1]!;
        x[i + 1] = t;
      }
      x[i + 1] = x[i + 1]! - multipliers[i]! * x[i]!;
    }
    x[n - 1] = x[n - 1]! / u0[n - 1]!;
    if (n > 1) x[n - 2] = (x[n - 2]! - u1[n - 2]! * x[n - 1]!) / u0[n - 2]!;
    for (let i = n - 3; i >= 0; i--) x[i] = (x[i]! - u1[i]! * x[i + 1]! - u2[i]! * x[i + 2]!) / u0[i]!;
  }
}
