import { instantiate, type Kernels, kernelsModule, type WasmMemory, wasmApi } from './wasm-kernels';
import { eigenvaluesOfTridiagonal } from './eigh';
import { powerOfTwoNear, type TopEigenRule, uniformSource } from './top-eigenpairs';
import { DfmError } from '@dfm/errors';

export { denseKernelsAvailable } from './wasm-kernels';

/**
 * The leading eigenpairs of a dense symmetric matrix, LAPACK's way (internal; PCA's Gram route, see
 * `pca-solver.ts`): Householder reduction to tridiagonal form T = Qᵀ A Q in WebAssembly (the O(n³) part:
 * `assembly/kernels.ts`), every eigenvalue of T by implicit QL (O(n²), JavaScript) or only the leading ones
 * by bisection, the eigenvectors of only the leading ones by inverse iteration on T (O(n) each; vectors of
 * close eigenvalues made orthogonal, as LAPACK's DSTEIN does), and back to A's basis through the stored
 * reflectors (WebAssembly, in blocks of 32).
 *
 * Against the subspace iteration (`top-eigenpairs.ts`), which needs O(n²·b) per cycle and tens of cycles
 * when the spectrum decays slowly: 4/3·n³ flops once, whatever the spectrum. In Node the reduction's steps are
 * shared with worker threads (see {@link DenseSymmetricSolver}). Measured on 2 cores (docs/benchmarks.md, "PCA
 * scale rows: a dense eigensolver in WebAssembly"): 9–13 GFLOP/s on one thread at 1000 rows; 0.51–0.57 s on two
 * threads at 2000 rows.
 *
 * Accuracy: backward stable like LAPACK's DSYEV route: eigenvalues to a few ε·‖A‖, eigenvectors to
 * ε·‖A‖ / gap.
 */

/** Node's `worker_threads` and `os`, reached without a static import (this package also runs in browsers). */
type NodeThreads = {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => {
    unref(): void;
    terminate(): Promise<number>;
    on(event: 'error', listener: (error: Error) => void): void;
  };
};

function nodeThreads(): { threads: NodeThreads; cores: number } | null {
  const get = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== 'function' || typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return null;
  const threads = get('node:worker_threads') as NodeThreads | undefined;
  const os = get('node:os') as { availableParallelism?: () => number } | undefined;
  if (threads?.Worker === undefined || typeof os?.availableParallelism !== 'function') return null;
  return { threads, cores: os.availableParallelism() };
}

/** Rows from which the reduction is shared between threads (below, starting a worker costs more than it saves). */
export const THREADS_FROM = 512;
/** At most this many threads sweep a step (the sweep is bound by memory bandwidth). */
const MAX_THREADS = 4;
/** Reflectors per call of the back-transformation (`applyBlock`'s largest block). */
const BLOCK = 32;
/**
 * A thread's work area for `applyBlock` (byte offsets): G [32 × 32] f64 at 0, the splat table [32 × 4]
 * v128 at WORK_P, S [32 × count] f64 at WORK_S (see {@link workBytes}).
 */
const WORK_P = BLOCK * BLOCK * 8;
const WORK_S = WORK_P + BLOCK * 4 * 16;

/** Bytes of one thread's work area for `applyBlock` with `count` columns. */
function workBytes(count: number): number {
  return WORK_S + BLOCK * count * 8;
}

/** A step's waiting for a worker gives up after this long (ms): a worker that died must not hang the fit. */
const WORKER_TIMEOUT_MS = 30_000;

/**
 * The worker's loop (CommonJS, evaluated): wait for a new command number in ctl[0], then run its command
 * (ctl[2 + 3t …] for worker t): k ≥ 0, i0, i1 — sweep rows [i0, i1) of step k into its own y; −2, c0, c1 —
 * back-transform columns [c0, c1) of Z (the job's words after the control words: Z's offset, its stride,
 * the first thread's work area and the size of one); −1 — stop. It counts itself done in ctl[1]; ctl[15] = 1
 * says it failed.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctl: ctlAt, a, n, w, y, tau, index, prefault } = workerData;
const ctl = new Int32Array(memory.buffer, ctlAt, 16);
try {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  // Map the pages of this worker's share of the upper triangle's rows (prefault = [first row, end row]) now,
  // while the main thread still prepares the data: a first write to a page costs a fault (~15 µs on a VM);
  // pages holding only lower-triangle entries are never used. Compare-and-swap 0 → 0 on one word per page
  // maps it for writing without ever changing a value the main thread may already have written there.
  const words = new Int32Array(memory.buffer);
  for (let r = prefault[0]; r < prefault[1]; r++) {
    const end = a + (r + 1) * n * 8;
    for (let byte = a + (r * n + r) * 8; byte < end; byte = (Math.floor(byte / 4096) + 1) * 4096) Atomics.compareExchange(words, byte >> 2, 0, 0);
  }
  let seen = 0;
  for (;;) {
    while (Atomics.load(ctl, 0) === seen) Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    const k = ctl[2 + 3 * index];
    if (k === -1) break;
    if (k === -2) {
      const job = new Uint32Array(memory.buffer, ctlAt + 64, 4);
      const work = job[2] + (index + 1) * job[3];
      for (let high = n - 2; high >= 0; high -= ${BLOCK}) {
        kernels.applyBlock(a, n, Math.max(0, high - ${BLOCK - 1}), high, tau, job[0], job[1], ctl[3 + 3 * index], ctl[4 + 3 * index], work, work + ${WORK_S}, work + ${WORK_P});
      }
    } else {
      kernels.stepRows(a, n, k, ctl[3 + 3 * index], ctl[4 + 3 * index], y, w);
    }
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
} catch (error) {
  // The main thread is blocked in Atomics.wait and cannot see an 'error' event: flag it in shared memory.
  Atomics.store(ctl, 15, 1);
  Atomics.notify(ctl, 1);
  throw error;
}
`;

/** Worker threads sharing a solver's memory: one per extra thread, each with its own y. */
type Team = {
  ctl: Int32Array;
  workers: { terminate(): Promise<number> }[];
  /** Byte offsets of the workers' y vectors. */
  ys: number[];
};


/** The leading eigenpairs of {@link denseEigen}. */
export type DenseEigen = {
  /** All n eigenvalues, descending; only the leading ones a rule asks for when {@link DenseSymmetricSolver.solve} got one. */
  values: Float64Array;
  /** The sum of all n eigenvalues (the trace). */
  total: number;
  /** `[n, count]` row-major: unit eigenvectors of `values[0…count−1]` as columns (once: it stops the worker threads). */
  vectors(count: number): Float64Array;
  /** Stops the worker threads that wait for {@link vectors} (when it is not called). */
  release(): void;
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
  #team: Team | null = null;

  /**
   * `threads`: how many threads sweep each step of the reduction (default: in Node, from {@link THREADS_FROM}
   * rows, the cores up to 4; elsewhere 1). Worker threads start here, so they are ready when {@link solve} runs.
   */
  constructor(n: number, options: { threads?: number } = {}) {
    this.#n = n;
    const node = n >= THREADS_FROM ? nodeThreads() : null;
    const threads = Math.max(1, Math.min(options.threads ?? (node === null ? 1 : Math.min(node.cores, MAX_THREADS)), MAX_THREADS));
    const sharedModule = threads > 1 && node !== null ? kernelsModule(true) : null;
    const extra = sharedModule === null ? 0 : threads - 1;
    // Layout (bytes, 16-aligned): A [n²], d, e, τ, y, w [n each], the workers' y [n each], their control
    // words; Z and its work vector after them.
    let offset = 0;
    const take = (count: number) => {
      const at = offset;
      offset += Math.ceil((count * 8) / 16) * 16;
      return at;
    };
    const a = take(n * n);
    this.#at = { a, d: take(n), e: take(n), tau: take(n), y: take(n), w: take(n), end: 0 };
    const ys = Array.from({ length: extra }, () => take(n));
    // 16 control words, then 4 job words (see WORKER_SOURCE).
    const ctlAt = take(10);
    this.#at.end = offset;
    const pages = Math.ceil(offset / 65536) + 1;
    const api = wasmApi();
    const module = sharedModule ?? kernelsModule();
    if (module === null || api === undefined) {
      throw new DfmError('dense eigensolver: WebAssembly with SIMD is not available here. Use eigh() instead.', { code: 'E_RUNTIME_UNAVAILABLE' });
    }
    let memory: WasmMemory;
    if (sharedModule !== null) {
      // Room for the eigenvectors and the threads' work areas too (a shared memory grows only up to its maximum).
      memory = new api.Memory({ initial: pages, maximum: pages + Math.ceil((n * n * 8 + threads * workBytes(n)) / 65536) + 1, shared: true });
    } else {
      memory = new api.Memory({ initial: pages });
    }
    this.#kernels = instantiate(module, memory);
    this.matrix = new Float64Array(memory.buffer, a, n * n);
    if (sharedModule !== null && node !== null) {
      const ctl = new Int32Array(memory.buffer, ctlAt, 16);
      const team: Team = { ctl, workers: [], ys };
      // The rows split by equal area of the upper triangle (row r holds n − r of its entries).
      const boundary = (t: number) => Math.round(n * (1 - Math.sqrt(1 - t / extra)));
      for (let index = 0; index < extra; index++) {
        const prefault = [boundary(index), boundary(index + 1)];
        const worker = new node.threads.Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { module: sharedModule, memory, ctl: ctlAt, a, n, w: this.#at.w, y: ys[index], tau: this.#at.tau, index, prefault },
        });
        worker.unref();
        // A failure is flagged in shared memory by the worker itself (see WORKER_SOURCE); the event only
        // keeps it from becoming an uncaught exception of the process.
        worker.on('error', () => {});
        team.workers.push(worker);
      }
      this.#team = team;
    }
  }

  /** How many threads sweep the reduction's steps. */
  get threads(): number {
    return 1 + (this.#team?.workers.length ?? 0);
  }

  /**
   * Reduces, then solves for every eigenvalue (implicit QL), or, given a `rule`, for the leading ones it
   * needs (bisection, {@link leadingEigenvaluesOfTridiagonal}); `onFraction` gets the share of the
   * reduction's flops done (about 20 reports, the last 1). Eigenvectors come on demand from the result; its worker threads (Node,
   * from {@link THREADS_FROM} rows) wait for them until {@link DenseEigen.vectors} or
   * {@link DenseEigen.release} is called.
   */
  solve(onFraction?: (fraction: number) => void, rule?: TopEigenRule): DenseEigen {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    try {
      kernels.firstStep(at.a, n, 0, at.d, at.e, at.tau, at.y);
      const every = Math.max(1, Math.ceil(n / 20));
      for (let k = 0; k < n - 1; k++) {
        if (kernels.stepHead(at.a, n, k, at.d, at.e, at.tau, at.y, at.w) === 1) this.#sweep(k);
        // Step k costs ∝ (n − k)²: the share done after it is 1 − ((n − k − 2) / (n − 1))³.
        if (onFraction !== undefined && ((k + 1) % every === 0 || k === n - 2)) onFraction(k === n - 2 ? 1 : 1 - ((n - k - 2) / (n - 1)) ** 3);
      }
    } catch (error) {
      this.#stopTeam();
      throw error;
    }
    // T divided by a power of two near its largest entry (exact; the reduction itself is scale-free): the
    // inverse iteration's solves then grow vectors to at most ~1/ε, far from overflow, whatever A's magnitude.
    const diagonal = new Float64Array(kernels.memory.buffer, at.d, n).slice();
    const offDiagonal = new Float64Array(n);
    offDiagonal.set(new Float64Array(kernels.memory.buffer, at.e, Math.max(0, n - 1)));
    let largest = 0;
    for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(diagonal[i]!), Math.abs(offDiagonal[i]!));
    const scale = powerOfTwoNear(largest);
    if (scale !== 1) {
      for (let i = 0; i < n; i++) {
        diagonal[i] = diagonal[i]! / scale;
        offDiagonal[i] = offDiagonal[i]! / scale;
      }
    }
    let trace = 0;
    for (let i = 0; i < n; i++) trace += diagonal[i]!;
    const scaledValues =
      rule === undefined ? eigenvaluesOfTridiagonal(diagonal.slice(), offDiagonal.slice(), n).sort().reverse() : leadingEigenvaluesOfTridiagonal(diagonal, offDiagonal, n, rule, trace);
    const solver = this;
    return {
      values: scaledValues.map((value) => value * scale),
      total: trace * scale,
      release: () => this.#stopTeam(),
      vectors(count) {
        try {
          return count === 0 ? new Float64Array(0) : solver.#vectors(tridiagonalEigenvectors(diagonal, offDiagonal, scaledValues, n, count), count);
        } finally {
          solver.#stopTeam();
        }
      },
    };
  }

  /**
   * Q Z for the `[n, count]` row-major eigenvectors Z of T, in blocks of 32 reflectors (`applyBlock`), the
   * columns split between the threads (the blocks stream Z twice per 32 reflectors: the threads no longer
   * compete for memory bandwidth, as they did when each reflector streamed all of Z).
   */
  #vectors(z: Float64Array, count: number): Float64Array {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    const team = count >= 16 ? this.#team : null;
    const threads = team === null ? 1 : team.workers.length + 1;
    // Z into the memory (grown as needed), then the threads' work areas.
    const zAt = at.end;
    const workAt = zAt + Math.ceil((n * count * 8) / 16) * 16;
    const need = workAt + threads * workBytes(count) - kernels.memory.buffer.byteLength;
    if (need > 0) kernels.memory.grow(Math.ceil(need / 65536));
    new Float64Array(kernels.memory.buffer, zAt, n * count).set(z);
    // Even column boundaries (Z's rows are read two columns per SIMD load).
    const bounds = Array.from({ length: threads + 1 }, (_, t) => 2 * Math.round((count * t) / threads / 2)).map((c, t) => (t === threads ? count : c));
    if (team !== null) {
      const { ctl } = team;
      const job = new Uint32Array(kernels.memory.buffer, ctl.byteOffset + 64, 4);
      job[0] = zAt;
      job[1] = count;
      job[2] = workAt;
      job[3] = workBytes(count);
      for (let t = 1; t < threads; t++) {
        ctl[2 + 3 * (t - 1)] = -2;
        ctl[3 + 3 * (t - 1)] = bounds[t]!;
        ctl[4 + 3 * (t - 1)] = bounds[t + 1]!;
      }
      this.#start(team);
    }
    for (let high = n - 2; high >= 0; high -= BLOCK) {
      kernels.applyBlock(at.a, n, Math.max(0, high - BLOCK + 1), high, at.tau, zAt, count, 0, bounds[1]!, workAt, workAt + WORK_S, workAt + WORK_P);
    }
    if (team !== null) this.#join(team, 'the back-transformation');
    return new Float64Array(kernels.memory.buffer, zAt, n * count).slice();
  }

  /**
   * The fused sweep of step k over rows k+2…: split between the threads by equal work (row i costs ∝ n − i),
   * the main thread taking the first (longest) rows; their sums into y are merged here.
   */
  #sweep(k: number): void {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    const first = k + 2;
    const rows = n - first;
    const team = this.#team;
    if (team === null || rows < 64) {
      kernels.stepRows(at.a, n, k, first, n, at.y, at.w);
      return;
    }
    const threads = team.workers.length + 1;
    // Boundary t: the rows before it hold t/threads of the triangle's area, rows·(1 − √(1 − t/threads)).
    const bounds = Array.from({ length: threads + 1 }, (_, t) => (t === threads ? n : first + Math.round(rows * (1 - Math.sqrt(1 - t / threads)))));
    const { ctl } = team;
    for (let t = 1; t < threads; t++) {
      ctl[2 + 3 * (t - 1)] = k;
      ctl[3 + 3 * (t - 1)] = bounds[t]!;
      ctl[4 + 3 * (t - 1)] = bounds[t + 1]!;
    }
    this.#start(team);
    kernels.stepRows(at.a, n, k, first, bounds[1]!, at.y, at.w);
    this.#join(team, `step ${k} of ${n}`);
    for (const y of team.ys) kernels.addInto(at.y, y, first, n);
  }

  /** Wakes the workers for the command written into their control words. */
  #start(team: Team): void {
    Atomics.store(team.ctl, 1, 0);
    Atomics.add(team.ctl, 0, 1);
    Atomics.notify(team.ctl, 0);
  }

  /** Waits until every worker has counted itself done (or failed, or timed out: E_INTERNAL). */
  #join(team: Team, what: string): void {
    const { ctl } = team;
    for (;;) {
      const done = Atomics.load(ctl, 1);
      if (done === team.workers.length) return;
      const outcome = Atomics.load(ctl, 15) !== 0 ? 'failed' : Atomics.wait(ctl, 1, done, WORKER_TIMEOUT_MS);
      if (outcome === 'failed' || outcome === 'timed-out') {
        const failed = Atomics.load(ctl, 15) !== 0;
        this.#stopTeam();
        throw new DfmError(
          `dense eigensolver: a worker thread ${failed ? 'failed' : 'stopped responding'} at ${what}. Retry, or pass threads: 1; if it persists, report it.`,
          { code: 'E_INTERNAL' },
        );
      }
    }
  }

  /** Stops the worker threads (they hold no state of their own). */
  #stopTeam(): void {
    const team = this.#team;
    if (team === null) return;
    this.#team = null;
    for (let t = 0; t < team.workers.length; t++) team.ctl[2 + 3 * t] = -1;
    Atomics.add(team.ctl, 0, 1);
    Atomics.notify(team.ctl, 0);
    for (const worker of team.workers) void worker.terminate();
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
      // The random start is bounded already; later ones are normalised so repeated growth cannot overflow.
      if (iteration > 0) normalise(x);
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
 * The leading eigenvalues of the symmetric tridiagonal (d, e) (`e[i]` couples i and i + 1; not modified),
 * descending, as many as `rule` needs: `count` of them, or, for a `level`, until their cumulative share of
 * `trace` passes it (as PCA's rule sums them), and two more. Bisection on Sturm counts (LAPACK's DSTEBZ
 * scheme), four eigenvalues at a time: the four count recurrences run interleaved (each is a chain of
 * dependent divisions), and every count narrows the brackets of all four. Accuracy ~ε‖T‖ absolute, as QL's.
 * For a PCA this is about a tenth of the eigenvalues, at a third of QL's cost for all of them.
 */
export function leadingEigenvaluesOfTridiagonal(d: Float64Array, e: Float64Array, n: number, rule: TopEigenRule, trace: number): Float64Array {
  // Gershgorin bounds and the pivot floor.
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  const e2 = new Float64Array(Math.max(0, n - 1));
  for (let i = 0; i < n; i++) {
    const radius = (i > 0 ? Math.abs(e[i - 1]!) : 0) + (i < n - 1 ? Math.abs(e[i]!) : 0);
    low = Math.min(low, d[i]! - radius);
    high = Math.max(high, d[i]! + radius);
    if (i < n - 1) e2[i] = e[i]! * e[i]!;
  }
  const norm = Math.max(Math.abs(low), Math.abs(high));
  const epsilon = 2 ** -52;
  const tolerance = 4 * epsilon * norm;
  let largestE2 = 1;
  for (let i = 0; i < n - 1; i++) largestE2 = Math.max(largestE2, e2[i]!);
  // LAPACK's pivot floor: the smallest normal number × max(1, max e²), so e²/pivot stays finite.
  const pivotFloor = 2 ** -1022 * largestE2;
  low -= tolerance;
  high += tolerance;
  const values: number[] = [];
  const counts = new Int32Array(4);
  const probes = new Float64Array(4);
  let cumulative = 0;
  let extra = -1;
  const enough = (): boolean => {
    if (values.length >= n) return true;
    if (rule.kind === 'count') return values.length >= rule.count;
    return extra >= 2;
  };
  while (!enough()) {
    // Eigenvalues j … j + 3 (descending), bracketed by [lo, hi]: each lies in its bracket.
    const j = values.length;
    const group = Math.min(4, n - j);
    const lo = [low, low, low, low];
    const hi = Array.from({ length: 4 }, () => (j === 0 ? high : values[j - 1]! + tolerance));
    for (let round = 0; round < 200; round++) {
      let open = 0;
      for (let t = 0; t < 4; t++) {
        probes[t] = t < group ? 0.5 * (lo[t]! + hi[t]!) : probes[0]!;
        if (t < group && hi[t]! - lo[t]! > Math.max(tolerance, 2 * epsilon * Math.max(Math.abs(lo[t]!), Math.abs(hi[t]!)))) open++;
      }
      if (open === 0) break;
      sturmCounts(d, e2, n, probes, pivotFloor, counts);
      // counts[t] eigenvalues lie below probes[t]: eigenvalue m (descending) lies at or above it when
      // m ≤ n − 1 − counts[t], below it otherwise. Every probe narrows every bracket.
      for (let t = 0; t < group; t++) {
        const x = probes[t]!;
        const above = n - 1 - counts[t]!;
        for (let u = 0; u < group; u++) {
          if (j + u <= above) lo[u] = Math.max(lo[u]!, x);
          else hi[u] = Math.min(hi[u]!, x);
        }
      }
    }
    for (let t = 0; t < group && !enough(); t++) {
      const value = 0.5 * (lo[t]! + hi[t]!);
      values.push(value);
      cumulative += Math.max(0, value) / trace;
      if (rule.kind === 'ratio' && (extra >= 0 || cumulative > rule.level)) extra++;
    }
  }
  return Float64Array.from(values);
}

/**
 * counts[t] = the number of eigenvalues of the tridiagonal (d, e² = `e2`) below probes[t], for four probes
 * at once (Sturm counts from the LDLᵀ pivots of T − xI; a pivot below `pivotFloor` in magnitude is taken
 * as −pivotFloor, as LAPACK's DLANEG does).
 */
function sturmCounts(d: Float64Array, e2: Float64Array, n: number, probes: Float64Array, pivotFloor: number, counts: Int32Array): void {
  const x0 = probes[0]!;
  const x1 = probes[1]!;
  const x2 = probes[2]!;
  const x3 = probes[3]!;
  let q0 = d[0]! - x0;
  let q1 = d[0]! - x1;
  let q2 = d[0]! - x2;
  let q3 = d[0]! - x3;
  let c0 = 0;
  let c1 = 0;
  let c2 = 0;
  let c3 = 0;
  for (let i = 1; ; i++) {
    if (Math.abs(q0) < pivotFloor) q0 = -pivotFloor;
    if (Math.abs(q1) < pivotFloor) q1 = -pivotFloor;
    if (Math.abs(q2) < pivotFloor) q2 = -pivotFloor;
    if (Math.abs(q3) < pivotFloor) q3 = -pivotFloor;
    if (q0 < 0) c0++;
    if (q1 < 0) c1++;
    if (q2 < 0) c2++;
    if (q3 < 0) c3++;
    if (i === n) break;
    const di = d[i]!;
    const ei = e2[i - 1]!;
    q0 = di - x0 - ei / q0;
    q1 = di - x1 - ei / q1;
    q2 = di - x2 - ei / q2;
    q3 = di - x3 - ei / q3;
  }
  counts[0] = c0;
  counts[1] = c1;
  counts[2] = c2;
  counts[3] = c3;
}

/**
 * Eigenvalues closer than this × ‖T‖ form a cluster whose vectors are made orthogonal. Inverse iteration
 * leaves a vector's error at ~ε‖T‖/gap, so vectors of eigenvalues further apart than 10⁻⁷‖T‖ are orthogonal
 * to ~2·10⁻⁹ already. (LAPACK's DSTEIN takes 10⁻³‖T‖: on a PCA's slowly decaying spectrum nearly every
 * leading vector would then be orthogonalised against all the others, O(n·count²).)
 */
const CLUSTER = 1e-7;

/**
 * Solves with T − λI per eigenvalue: 2 from a random start. Each solve divides the error by ~gap / (ε‖T‖),
 * at least 10⁻⁷ / ε ≈ 5·10⁸ outside a cluster (inside one, the vectors are made orthogonal after each solve).
 */
const INVERSE_ITERATIONS = 2;

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
  /** 1 / u0 (a multiplication per row in {@link solve} instead of a division). */
  private readonly inverse0: Float64Array;
  private readonly u1: Float64Array;
  private readonly u2: Float64Array;
  private readonly multipliers: Float64Array;
  private readonly swapped: Uint8Array;

  constructor(private readonly n: number) {
    this.u0 = new Float64Array(n);
    this.inverse0 = new Float64Array(n);
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
    const { inverse0 } = this;
    for (let i = 0; i < n; i++) inverse0[i] = 1 / u0[i]!;
  }

  /** x ← (T − λI)⁻¹ x in place. */
  solve(x: Float64Array): void {
    const { n, inverse0, u1, u2, multipliers, swapped } = this;
    for (let i = 0; i < n - 1; i++) {
      if (swapped[i] === 1) {
        const t = x[i]!;
        x[i] = x[i + 1]!;
        x[i + 1] = t;
      }
      x[i + 1] = x[i + 1]! - multipliers[i]! * x[i]!;
    }
    x[n - 1] = x[n - 1]! * inverse0[n - 1]!;
    if (n > 1) x[n - 2] = (x[n - 2]! - u1[n - 2]! * x[n - 1]!) * inverse0[n - 2]!;
    for (let i = n - 3; i >= 0; i--) x[i] = (x[i]! - u1[i]! * x[i + 1]! - u2[i]! * x[i + 2]!) * inverse0[i]!;
  }
}
