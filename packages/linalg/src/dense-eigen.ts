import { instantiate, type Kernels, kernelsModule, type WasmMemory, wasmApi } from './wasm-kernels';
import { eigenvaluesOfTridiagonal } from './eigh';
import { powerOfTwoNear, type TopEigenRule } from './top-eigenpairs';
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

/**
 * Rows from which the reduction is shared between threads by default. Below, a worker costs more than it
 * saves: each step's hand-over is a few µs, and starting one takes ~70 ms of a core and ~8 MB of fresh pages
 * while the Gram products run (measured on 2 cores: 1000 rows solve in 175–187 ms on one thread, 185–203 ms
 * on two, and the whole 1000 × 4096 fit was 0.55–0.58 s against 0.59–0.64 s; 2000 rows: 0.89 against 0.63–0.76 s).
 */
export const THREADS_FROM = 1200;
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
  /**
   * Once {@link vectors} has been called: where the reduced matrix was in the solver's memory (n² float64),
   * free for a caller's scratch — its pages are mostly mapped already, where a new array's cost ~15 µs each
   * on a VM. Null before that, or when the memory is shared (onnxruntime-node takes no views of a
   * SharedArrayBuffer).
   */
  spent(): { buffer: ArrayBuffer; byteOffset: number; byteLength: number } | null;
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
  /** Whether the memory is shared (worker threads): onnxruntime-node takes no views of it. */
  readonly #shared: boolean;
  readonly #at: { a: number; d: number; e: number; tau: number; y: number; w: number; scratch: number; end: number };
  #team: Team | null = null;

  /**
   * `threads`: how many threads sweep each step of the reduction (default: in Node, from {@link THREADS_FROM}
   * rows, the cores up to 4; elsewhere 1; an explicit count above 1 is honoured in Node at any size). Worker
   * threads start here, so they are ready when {@link solve} runs.
   */
  constructor(n: number, options: { threads?: number } = {}) {
    this.#n = n;
    const node = (options.threads === undefined ? n >= THREADS_FROM : options.threads > 1) ? nodeThreads() : null;
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
    // scratch: the bisection's eight probes (f64) and counts (i32), the inverse iteration's random state (u32),
    // then the bisection's brackets (2 × 8 f64).
    this.#at = { a, d: take(n), e: take(n), tau: take(n), y: take(n), w: take(n), scratch: take(32), end: 0 };
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
    this.#shared = sharedModule !== null;
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
    // The scaled T is written back over d and e in the memory, for the kernels below.
    const diagonal = new Float64Array(kernels.memory.buffer, at.d, n);
    const offDiagonal = new Float64Array(kernels.memory.buffer, at.e, n);
    offDiagonal[n - 1] = 0;
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
      rule === undefined ? eigenvaluesOfTridiagonal(diagonal.slice(), offDiagonal.slice(), n).sort().reverse() : this.#leadingEigenvalues(rule, trace);
    const solver = this;
    let spent = false;
    return {
      values: scaledValues.map((value) => value * scale),
      total: trace * scale,
      release: () => this.#stopTeam(),
      vectors(count) {
        try {
          return count === 0 ? new Float64Array(0) : solver.#vectors(scaledValues, count);
        } finally {
          solver.#stopTeam();
          spent = true;
        }
      },
      spent() {
        return spent && !solver.#shared ? { buffer: kernels.memory.buffer, byteOffset: at.a, byteLength: n * n * 8 } : null;
      },
    };
  }

  /**
   * The leading eigenvalues of the (scaled) T in the memory, descending, as many as `rule` needs: `count` of
   * them, or, for a `level`, until their cumulative share of `trace` passes it (as PCA's rule sums them), and
   * two more. Bisection on Sturm counts (LAPACK's DSTEBZ scheme), eight eigenvalues at a time: the kernel
   * `bisectGroup` runs all of a group's rounds, each counting with the eight recurrences interleaved (each is a
   * chain of dependent divisions), and every count narrows the brackets of all eight. JavaScript sets the
   * brackets and applies the rule between groups. Accuracy ~ε‖T‖ absolute, as QL's. For a PCA this is about a
   * tenth of the eigenvalues, at a third of QL's cost for all of them.
   */
  #leadingEigenvalues(rule: TopEigenRule, trace: number): Float64Array {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    const d = new Float64Array(kernels.memory.buffer, at.d, n);
    const e = new Float64Array(kernels.memory.buffer, at.e, n);
    // e² over y (free once the reduction is done).
    const e2 = new Float64Array(kernels.memory.buffer, at.y, n);
    // Gershgorin bounds and the pivot floor.
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    let largestE2 = 1;
    for (let i = 0; i < n; i++) {
      const radius = (i > 0 ? Math.abs(e[i - 1]!) : 0) + (i < n - 1 ? Math.abs(e[i]!) : 0);
      low = Math.min(low, d[i]! - radius);
      high = Math.max(high, d[i]! + radius);
      e2[i] = e[i]! * e[i]!;
      largestE2 = Math.max(largestE2, e2[i]!);
    }
    const norm = Math.max(Math.abs(low), Math.abs(high));
    const epsilon = 2 ** -52;
    const tolerance = 4 * epsilon * norm;
    // LAPACK's pivot floor: the smallest normal number × max(1, max e²), so e²/pivot stays finite.
    const pivotFloor = 2 ** -1022 * largestE2;
    low -= tolerance;
    high += tolerance;
    const values: number[] = [];
    let cumulative = 0;
    let extra = -1;
    const enough = (): boolean => {
      if (values.length >= n) return true;
      if (rule.kind === 'count') return values.length >= rule.count;
      return extra >= 2;
    };
    // The brackets in the scratch words, narrowed there by the kernel `bisectGroup` (all of a group's rounds).
    const lo = new Float64Array(kernels.memory.buffer, at.scratch + BRACKETS, GROUP);
    const hi = new Float64Array(kernels.memory.buffer, at.scratch + BRACKETS + 8 * GROUP, GROUP);
    while (!enough()) {
      // Eigenvalues j … j + GROUP − 1 (descending), bracketed by [lo, hi]: each lies in its bracket.
      const j = values.length;
      const group = Math.min(GROUP, n - j);
      lo.fill(low);
      hi.fill(j === 0 ? high : values[j - 1]! + tolerance);
      kernels.bisectGroup(at.d, at.y, n, j, group, lo.byteOffset, hi.byteOffset, tolerance, epsilon, pivotFloor, at.scratch, at.scratch + 8 * GROUP);
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
   * Unit eigenvectors of the (scaled) T in the memory for its `count` largest eigenvalues `values`
   * (descending), into Z `[n, count]` row-major at `zAt`: inverse iteration (the kernel `inverseVector`, one
   * call per vector), with the vectors of eigenvalues closer than {@link CLUSTER}·‖T‖ made orthogonal to each
   * other (modified Gram–Schmidt after each solve), and equal eigenvalues pulled apart by 10·ε·‖T‖ so their
   * solves differ (LAPACK's DSTEIN scheme). `lu`: the kernel's work area (7n f64).
   */
  #tridiagonalVectors(values: Float64Array, count: number, zAt: number, lu: number): void {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    const z = new Float64Array(kernels.memory.buffer, zAt, n * count);
    const d = new Float64Array(kernels.memory.buffer, at.d, n);
    const e = new Float64Array(kernels.memory.buffer, at.e, n);
    let norm = 0;
    for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + (i < n - 1 ? Math.abs(e[i]!) : 0) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
    if (n === 1 || !(norm > 0)) {
      // T = 0 (or 1 × 1): every unit vector is an eigenvector.
      z.fill(0);
      for (let j = 0; j < count; j++) z[j * count + j] = 1;
      return;
    }
    const epsilon = 2 ** -52;
    const separation = CLUSTER * norm;
    const perturbation = 10 * epsilon * Math.max(norm, Number.MIN_VALUE);
    const tiny = epsilon * Math.max(norm, Number.MIN_VALUE);
    new Uint32Array(kernels.memory.buffer, at.scratch + RANDOM_STATE, 1)[0] = RANDOM_SEED;
    let clusterStart = 0;
    let previous = Number.POSITIVE_INFINITY;
    for (let j = 0; j < count; j++) {
      let lambda = values[j]!;
      if (j > 0 && previous - lambda < perturbation) lambda = previous - perturbation;
      if (j === 0 || previous - lambda > separation) clusterStart = j;
      previous = lambda;
      if (kernels.inverseVector(at.d, at.e, n, lambda, tiny, INVERSE_ITERATIONS, zAt, count, j, clusterStart, lu, at.scratch + RANDOM_STATE) !== 1) {
        throw new DfmError(`dense eigensolver: inverse iteration failed for eigenvalue ${j} (${values[j]}): the vector vanished. Report this input.`, {
          code: 'E_NO_CONVERGENCE',
        });
      }
    }
  }

  /**
   * Q Z for the `[n, count]` row-major eigenvectors Z of T, in blocks of 32 reflectors (`applyBlock`), the
   * columns split between the threads (the blocks stream Z twice per 32 reflectors: the threads no longer
   * compete for memory bandwidth, as they did when each reflector streamed all of Z).
   */
  #vectors(values: Float64Array, count: number): Float64Array {
    const n = this.#n;
    const kernels = this.#kernels;
    const at = this.#at;
    const team = count >= 16 ? this.#team : null;
    const threads = team === null ? 1 : team.workers.length + 1;
    // Z in the memory (grown as needed), then the threads' work areas, then the inverse iteration's.
    const zAt = at.end;
    const workAt = zAt + Math.ceil((n * count * 8) / 16) * 16;
    const luAt = workAt + threads * workBytes(count);
    const need = luAt + 7 * n * 8 - kernels.memory.buffer.byteLength;
    if (need > 0) kernels.memory.grow(Math.ceil(need / 65536));
    this.#tridiagonalVectors(values, count, zAt, luAt);
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
    // A view of the memory, not a copy (the solver is spent: nothing writes there any more).
    return new Float64Array(kernels.memory.buffer, zAt, n * count);
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

/** The inverse iteration's random starts: xorshift32 from this seed (the same vectors every run). */
const RANDOM_SEED = 0x2545f491;

/** Eigenvalues bracketed together by the bisection: the probes of one Sturm-count pass of `bisectGroup`. */
const GROUP = 8;

/** Byte offset in the solver's scratch words of the xorshift32 state (after the probes and counts). */
const RANDOM_STATE = 12 * GROUP;
/** Byte offset in the solver's scratch words of the bisection's brackets (lower bounds, then upper bounds). */
const BRACKETS = 16 * GROUP;
