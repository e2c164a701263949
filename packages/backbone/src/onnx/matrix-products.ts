import { DfmError, InvalidArgumentError } from '@dfm/errors';
import { isNode, nodeBuiltin } from '../node-builtin';
import { loadOnnxruntime, type LoadOnnxruntimeOptions, type OrtModule, type OrtSession, type OrtTensor } from './load-onnxruntime';
import { encodeOnnxModel } from './onnx-model';

/**
 * One matrix product, `op(a) · op(b)` — the shape of `@dfm/linalg`'s `ProductRequest` (declared here too so
 * this package does not depend on linalg): `a` `[m, k]` row-major (`[k, m]` when `transposeA`), `b` `[k, n]`
 * (`[n, k]` when `transposeB`), result `[m, n]`, Float32Array for `'float32'`, Float64Array for `'float64'`.
 */
export interface MatrixProductRequest {
  a: Float32Array | Float64Array;
  b: Float32Array | Float64Array;
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
  precision: 'float32' | 'float64';
  reuseA?: boolean;
}

/** `@dfm/linalg`'s `MatrixProducts` on onnxruntime-node: pass it as the `products` option of PCA's async fits. */
export interface OnnxMatrixProducts {
  readonly name: string;
  /** Threads onnxruntime uses per product. */
  readonly threads: number;
  matMul(request: MatrixProductRequest): Promise<Float32Array | Float64Array>;
  /** Releases the sessions (later products create them again). */
  release(): Promise<void>;
}

/** Options of {@link onnxMatrixProducts}. */
export interface OnnxMatrixProductsOptions extends Pick<LoadOnnxruntimeOptions, 'resolveFrom'> {
  /** onnxruntime's intra-op threads (default: every core, `os.availableParallelism()`). */
  threads?: number;
}

type TensorType = 'float32' | 'float64';
type OrtTensorConstructor = new (type: TensorType, data: Float32Array | Float64Array, dims: readonly number[]) => OrtTensor;

/**
 * Matrix products on onnxruntime-node's CPU BLAS (MLAS for float32, Eigen for float64), multi-threaded
 * with AVX-512 where the CPU has it: for `@dfm/linalg`'s PCA at scale (`PCAStatistics.updateAsync` /
 * `toPCAAsync`, `PCA.fitAsync` with `{ products }`). Measured on a 2-core AVX-512 machine: float32 GEMM
 * 230–290 GFLOP/s and float64 95–115 GFLOP/s, against 12–36 GFLOP/s for tfjs-wasm's single thread. One
 * ONNX `Gemm` session per precision and transpose pair, all made (and run once on a small product) when the
 * provider is created, so none is made inside a fit. onnxruntime-node's `run` blocks
 * the calling thread for the product (as tfjs-wasm's sync products do).
 *
 * @throws DfmError `E_RUNTIME_UNAVAILABLE` when onnxruntime-node is not installed (or not in Node)
 * @example
 * const products = await onnxMatrixProducts();
 * const statistics = new PCAStatistics({ products });
 * for (const batch of batches) await statistics.updateAsync(batch);
 * const pca = await statistics.toPCAAsync({ nComponents: 0.97 });
 */
export async function onnxMatrixProducts(options: OnnxMatrixProductsOptions = {}): Promise<OnnxMatrixProducts> {
  const caller = 'onnxMatrixProducts()';
  const { threads: requested } = options ?? {};
  if (requested !== undefined && !(Number.isSafeInteger(requested) && requested >= 1)) {
    throw new InvalidArgumentError(`${caller}: threads must be a positive integer — got ${String(requested)}. Omit it to use every core.`);
  }
  if (!isNode()) {
    throw new DfmError(`${caller}: needs onnxruntime-node, which runs only in Node.js — this is not Node.js. Use PCA's synchronous fits (the tfjs backend) here.`, {
      code: 'E_RUNTIME_UNAVAILABLE',
    });
  }
  const loaded = await loadOnnxruntime({ onnxruntimePackage: 'onnxruntime-node', ...(options.resolveFrom === undefined ? {} : { resolveFrom: options.resolveFrom }) });
  if (typeof loaded === 'string') {
    throw new DfmError(`${caller}: needs onnxruntime-node — ${loaded}. Install it (npm i onnxruntime-node) or omit the products option to use the tfjs backend.`, {
      code: 'E_RUNTIME_UNAVAILABLE',
    });
  }
  const threads = requested ?? nodeBuiltin('os', caller).availableParallelism();
  const products = new OrtMatrixProducts(loaded.ort, loaded.version, threads);
  // Every session a PCA asks for is made now, concurrently, not on first use: made on demand, each one
  // (10–50 ms) sat inside the fit, between two of its products.
  await products.prepare();
  return products;
}

class OrtMatrixProducts implements OnnxMatrixProducts {
  readonly name: string;
  readonly threads: number;
  readonly #ort: OrtModule;
  readonly #sessions = new Map<string, Promise<OrtSession>>();

  constructor(ort: OrtModule, version: string, threads: number) {
    this.#ort = ort;
    this.threads = threads;
    this.name = `onnxruntime-node ${version} (${threads} thread${threads === 1 ? '' : 's'})`;
  }

  async matMul(request: MatrixProductRequest): Promise<Float32Array | Float64Array> {
    const { a, b, m, k, n, transposeA, transposeB, precision } = checkRequest(request, `${this.name}: matMul()`);
    const type: TensorType = precision;
    const session = await this.#session(type, transposeA, transposeB);
    const Tensor = this.#ort.Tensor as unknown as OrtTensorConstructor;
    const feeds = {
      a: new Tensor(type, as(type, a), transposeA ? [k, m] : [m, k]),
      b: new Tensor(type, as(type, b), transposeB ? [n, k] : [k, n]),
    };
    let outputs: Record<string, OrtTensor>;
    try {
      outputs = await session.run(feeds);
    } catch (cause) {
      throw new DfmError(`${this.name}: the ${m}×${k}×${n} ${precision} product failed (${(cause as Error).message}). Check free memory, or omit the products option.`, {
        code: 'E_RUNTIME',
        cause,
      });
    }
    const data = outputs.c?.data;
    if (!(type === 'float64' ? data instanceof Float64Array : data instanceof Float32Array)) {
      throw new DfmError(`${this.name}: expected a ${type} result — got ${Object.prototype.toString.call(data)}. This is a bug: please report it.`, { code: 'E_INTERNAL' });
    }
    return data as Float32Array | Float64Array;
  }

  /**
   * Makes the sessions of the products PCA asks for (both precisions; `a·b`, `aᵀ·b`, `a·bᵀ`) and runs each
   * once on a 64 × 64 product (a session's first run pays for setting itself up).
   */
  async prepare(): Promise<void> {
    const kinds: [boolean, boolean][] = [
      [false, false],
      [true, false],
      [false, true],
    ];
    await Promise.all((['float32', 'float64'] as const).flatMap((type) => kinds.map(([transposeA, transposeB]) => this.#session(type, transposeA, transposeB))));
    for (const type of ['float32', 'float64'] as const) {
      const one = type === 'float32' ? new Float32Array(64 * 64).fill(1) : new Float64Array(64 * 64).fill(1);
      for (const [transposeA, transposeB] of kinds) await this.matMul({ a: one, b: one, m: 64, k: 64, n: 64, transposeA, transposeB, precision: type });
    }
  }

  async release(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of sessions) await (await session).release();
  }

  #session(type: TensorType, transposeA: boolean, transposeB: boolean): Promise<OrtSession> {
    const key = `${type}/${transposeA ? 't' : 'n'}${transposeB ? 't' : 'n'}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      const model = encodeOnnxModel({
        name: `dfm_gemm_${key.replace('/', '_')}`,
        nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['c'], attributes: { transA: transposeA ? 1 : 0, transB: transposeB ? 1 : 0 } }],
        initializers: [],
        inputs: [
          { name: 'a', type, dims: ['a0', 'a1'] },
          { name: 'b', type, dims: ['b0', 'b1'] },
        ],
        outputs: [{ name: 'c', type, dims: ['m', 'n'] }],
      });
      session = this.#ort.InferenceSession.create(model, {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // No busy-waiting after a product: onnxruntime's pool threads otherwise spin on the cores for a while
        // after each run, while a PCA's JavaScript (centring, sums, the eigensolver) runs between products and
        // needs them, as do V8's compiler and GC threads. Measured on 2 cores, a 1000 × 4096 PCA.fitAsync
        // (eight products): 0.42–0.46 s without spinning against 0.51–0.62 s with it, alternated in one run.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      this.#sessions.set(key, session);
      session.catch(() => this.#sessions.delete(key));
    }
    return session;
  }
}

function as(type: TensorType, x: Float32Array | Float64Array): Float32Array | Float64Array {
  if (type === 'float64') return x instanceof Float64Array ? x : Float64Array.from(x);
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

function checkRequest(request: MatrixProductRequest, caller: string): MatrixProductRequest {
  const { a, b, m, k, n, precision } = request ?? ({} as MatrixProductRequest);
  for (const [name, value] of [
    ['m', m],
    ['k', k],
    ['n', n],
  ] as const) {
    if (!(Number.isSafeInteger(value) && value >= 1)) {
      throw new InvalidArgumentError(`${caller}: ${name} must be a positive integer — got ${String(value)}. Pass the product's dimensions.`);
    }
  }
  if (precision !== 'float32' && precision !== 'float64') {
    throw new InvalidArgumentError(`${caller}: precision must be 'float32' or 'float64' — got ${JSON.stringify(precision)}.`);
  }
  for (const [name, value, size] of [
    ['a', a, m * k],
    ['b', b, k * n],
  ] as const) {
    if (!(value instanceof Float32Array || value instanceof Float64Array) || value.length !== size) {
      throw new InvalidArgumentError(
        `${caller}: ${name} must be a Float32Array or Float64Array of ${size} values — got ${Object.prototype.toString.call(value)}${ArrayBuffer.isView(value) ? ` of ${(value as Float32Array).length}` : ''}. Pass row-major data of the stated shape.`,
      );
    }
  }
  return request;
}
