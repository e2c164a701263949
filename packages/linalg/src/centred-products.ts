import type { ProductRequest, ProductWork } from './products';
import { assertFiniteValues } from './validate';
import { instantiate, type Kernels, kernelsModule, wasmApi } from './wasm-kernels';

/**
 * The second-moment products behind {@link PCA} and {@link PCAStatistics} (internal).
 *
 * Both routes round the centred data to float32 once and yield float32 products (see `products.ts`) in chunks
 * of {@link CHUNK} along the summed axis; chunk results are summed in float64. Float32 rounding error then
 * grows with the chunk length instead of with the full length, which keeps PCA's subspace at float64
 * reference precision: emulated in numpy on 4000 × 4096 synthetic features, float32 Gram chunks of 256 /
 * 1024 / 4096 features move the FRE by 4.6e-7 / 4.8e-7 / 1.6e-6 relative against float64.
 *
 * - Gram route (N < D): {@link gramProducts}, `Xc Xcᵀ` `[N, N]` of all rows at once (features in chunks of 1024).
 * - Covariance route (N ≥ D): {@link accumulateScatter} adds `Σ (x − c)(x − c)ᵀ` of any number of rows,
 *   chunk by chunk, into a float64 lower triangle: memory is O(D²) + one chunk, whatever N is. The
 *   chunks are the consecutive groups of CHUNK rows, so feeding the rows in batches of any size gives
 *   the same sums as feeding them at once.
 */
export type GramProducts = {
  /** `[nFeatures]` column means in float64. */
  mean: Float64Array;
  /** `[nSamples, nSamples]` = Xc Xcᵀ, row-major, symmetric. */
  product: Float64Array;
  size: number;
  /**
   * The centred data in float32, cut along the features: `chunk(c)` holds features `c·chunkLength …` as a
   * `[nSamples, chunkLength]` row-major block (zero past `nFeatures`), ready to form the components `Xcᵀ U`.
   * Every chunk is written into the same buffer (valid until the next call): one chunk of memory, not the
   * whole centred copy of the rows.
   */
  chunk(c: number): Float32Array;
  /** How many chunks there are. */
  chunkCount: number;
  chunkLength: number;
  /** The power of two the data was divided by (1: none; see {@link powerOfTwoScale}); mean and chunks are divided too. */
  scale: number;
};

/**
 * The rows as consecutive row-major blocks, fetched anew at each call: a view that an await may invalidate
 * (tfjs-wasm's heap grows and moves) is never held across one.
 */
export type RowBlocks = () => readonly Float32Array[];

/**
 * Rows per chunk of {@link accumulateScatter} (and of PCAStatistics' pending buffer): float32 sums of 1024
 * products, then float64. Larger chunks keep a BLAS busy (K = 1024) and cost fewer float64 additions of
 * the D² block (one per chunk: 134M at D = 16384).
 */
export const CHUNK = 1024;

/** Output rows per product in {@link accumulateScatter} (a block of 1024 × D float32 is read back at a time). */
const ROW_BLOCK = 1024;
/**
 * Columns per product of {@link gramProducts}: blocks of 512 skip more of the lower triangle than blocks of
 * 1024 (at 1000 rows, 1.5 instead of 2.0 GFLOP per chunk of features) for a few more, smaller products.
 */
const GRAM_BLOCK = 512;

/** Centred magnitudes inside [2^-50, 2^50] need no scaling: float32 products of them stay normal and finite. */
const LARGEST_UNSCALED = 2 ** 50;
const SMALLEST_UNSCALED = 2 ** -50;

/** Column means of `[n, d]` row-major `data` in float64. */
export function columnMeans(data: ArrayLike<number>, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const offset = i * d;
    for (let j = 0; j < d; j++) mean[j]! += data[offset + j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= n;
  return mean;
}

/** Adds the column sums of row-major `[·, d]` `rows` to `sums` (float64), in the row order of {@link columnMeans}. */
export function addColumnSums(rows: ArrayLike<number>, d: number, sums: Float64Array): void {
  for (let offset = 0; offset < rows.length; offset += d) for (let j = 0; j < d; j++) sums[j]! += rows[offset + j]!;
}

/** Consecutive row blocks one after the other in a new array of `length` (the block itself when there is one). */
export function concatenateRows(blocks: readonly Float32Array[], length: number): Float32Array {
  if (blocks.length === 1) return blocks[0]!;
  const all = new Float32Array(length);
  let offset = 0;
  for (const block of blocks) {
    all.set(block, offset);
    offset += block.length;
  }
  return all;
}

/**
 * A power of two near `largest` (a largest |x − centre|) when that lies outside [2^-50, 2^50], else 1.
 * Dividing by it is exact (barring values far below the largest, which float32 cannot resolve anyway),
 * and keeps float32 products from overflowing to Infinity or underflowing to zero.
 */
export function powerOfTwoScale(largest: number): number {
  if (largest === 0 || (largest <= LARGEST_UNSCALED && largest >= SMALLEST_UNSCALED)) return 1;
  return 2 ** Math.round(Math.log2(largest));
}

/** Entries of the packed lower triangle of a `[d, d]` symmetric matrix: row i holds columns 0…i. */
export function packedLength(d: number): number {
  return (d * (d + 1)) / 2;
}

/** Offset of row `i` in a packed lower triangle. */
export function packedRow(i: number): number {
  return (i * (i + 1)) / 2;
}

/**
 * Computes {@link GramProducts} of the `[n, d]` row-major float32 rows (n < d) that `rows` returns, whole or
 * as consecutive row blocks; `onChunk` gets the fraction done; the product is written into `target` (`[n, n]`,
 * e.g. the dense eigensolver's memory) when given. The summed axis (features) is cut into chunks of
 * {@link gramChunk}`(d)`, each centred into one reused buffer just before its products; only the upper
 * triangle is multiplied (column blocks of {@link GRAM_BLOCK} against the rows up to their end, `A Bᵀ` on
 * the chunk itself), then mirrored unless `upperOnly`. Non-finite values are found through the column sums
 * (a NaN or ±Infinity makes its column's sum non-finite; finite float32 rows cannot overflow a float64 sum):
 * InvalidArgumentError naming `caller`.
 */
export function* gramProducts(
  rows: RowBlocks,
  n: number,
  d: number,
  caller: string,
  options: {
    onChunk?: (fraction: number) => void;
    /** Receives the product (overwritten); a new array when omitted. */
    target?: Float64Array;
    /**
     * Write the upper triangle only (the dense eigensolver reads no other): on a fresh target the pages
     * that hold only lower-triangle entries, about half, are then never touched.
     */
    upperOnly?: boolean;
    /** false: the column sums and the centring in JavaScript even where the WebAssembly kernels run (tests). */
    wasm?: boolean;
  } = {},
): ProductWork<GramProducts> {
  const { onChunk, target = new Float64Array(n * n), upperOnly = false } = options;
  const chunkLength = gramChunk(d);
  const chunkCount = Math.ceil(d / chunkLength);
  const stage = options.wasm === false ? null : GramStage.create(n, d, chunkLength);
  const mean = blockColumnMeans(rows(), n, d, caller, stage);
  const buffer = stage?.chunk ?? new Float32Array(n * chunkLength);
  const centre = (c: number, scale: number): number =>
    stage === null ? centreChunk(rows(), d, mean, c * chunkLength, chunkLength, scale, buffer) : stage.centre(rows(), c * chunkLength, scale);
  const product = target;
  // Features of extreme magnitude (|x − mean| beyond 2^±50) are divided by a power of two (exact) so the
  // float32 products neither overflow to Infinity nor underflow to zero; `scale` says by what. The largest
  // |x − mean| is known only once every chunk is centred: the products are made again, scaled, in that
  // (rare) case.
  let scale = 1;
  for (;;) {
    let largest = 0;
    for (let c = 0; c < chunkCount; c++) {
      largest = Math.max(largest, centre(c, scale));
      for (let i0 = 0; i0 < n; i0 += GRAM_BLOCK) {
        const i1 = Math.min(n, i0 + GRAM_BLOCK);
        addGramBlock(product, n, (yield upperBlock(buffer, i0, i1, chunkLength)) as Float32Array, i0, i1, c === 0);
      }
      onChunk?.((c + 1) / chunkCount);
    }
    const needed = powerOfTwoScale(largest);
    if (scale !== 1 || needed === 1) break;
    scale = needed;
  }
  if (!upperOnly) mirrorUpper(product, n);
  const scaledMean = scale === 1 ? mean : mean.map((value) => value / scale);
  return {
    mean: scaledMean,
    product,
    size: n,
    chunk: (c) => {
      centre(c, scale);
      return buffer;
    },
    chunkCount,
    chunkLength,
    scale,
  };
}

// The loops below are plain functions, not inside the generator: V8 optimises them far better there
// (measured: building the chunks of 1000 × 4096 rows took 100 ms inside the generator).

/**
 * {@link columnMeans} of `n` rows given as consecutive row-major blocks (the same sums in the same order, in
 * WebAssembly when there is a `stage`: then the stage's own {@link GramStage.mean}), checked finite.
 */
function blockColumnMeans(blocks: readonly Float32Array[], n: number, d: number, caller: string, stage: GramStage | null): Float64Array {
  const mean = stage?.mean ?? new Float64Array(d);
  if (stage === null) for (const block of blocks) addColumnSums(block, d, mean);
  else stage.sumColumns(blocks);
  let finite = true;
  for (let j = 0; j < d; j++) {
    mean[j]! /= n;
    finite &&= Number.isFinite(mean[j]!);
  }
  if (!finite) {
    let first = 0;
    for (const block of blocks) {
      assertFiniteValues(block, d, caller, first);
      first += block.length / d;
    }
  }
  return mean;
}

/**
 * The Gram route's column sums and centring in WebAssembly (the kernels `columnSums` and `centreChunk`: the
 * same sums and values as {@link addColumnSums} and {@link centreChunk}, operation for operation), on a
 * plain memory that holds the chunk buffer — onnxruntime-node reads a view of it as it is (it refuses views
 * of a SharedArrayBuffer) — and the mean. V8 ran those two loops mostly unoptimised in a fit's single pass:
 * at 1000 × 4096 the column sums took 22–34 ms of JavaScript.
 */
class GramStage {
  /** `[n, chunkLength]` float32: the chunk buffer (a view of the memory). */
  readonly chunk: Float32Array;
  /** `[d]` float64 (a view of the memory): the column sums, then the mean {@link centre} reads. */
  readonly mean: Float64Array;
  /** The chunk buffer's memory and more: at least one row (the column sums copy rows through it). */
  readonly #staging: Float32Array;
  readonly #kernels: Kernels;
  readonly #n: number;
  readonly #d: number;
  readonly #chunkLength: number;

  private constructor(kernels: Kernels, n: number, d: number, chunkLength: number) {
    this.#kernels = kernels;
    this.#n = n;
    this.#d = d;
    this.#chunkLength = chunkLength;
    const staging = Math.max(n * chunkLength, d);
    this.chunk = new Float32Array(kernels.memory.buffer, 0, n * chunkLength);
    this.#staging = new Float32Array(kernels.memory.buffer, 0, staging);
    this.mean = new Float64Array(kernels.memory.buffer, Math.ceil((staging * 4) / 16) * 16, d);
  }

  /** A stage for `[n, d]` rows in chunks of `chunkLength` features, or null where the kernels cannot run. */
  static create(n: number, d: number, chunkLength: number): GramStage | null {
    const module = kernelsModule();
    const api = wasmApi();
    if (module === null || api === undefined) return null;
    const bytes = Math.ceil((Math.max(n * chunkLength, d) * 4) / 16) * 16 + d * 8;
    return new GramStage(instantiate(module, new api.Memory({ initial: Math.ceil(bytes / 65536) })), n, d, chunkLength);
  }

  /** {@link mean} = the column sums of the rows (blocks copied through the chunk buffer, then summed there). */
  sumColumns(blocks: readonly Float32Array[]): void {
    const d = this.#d;
    this.mean.fill(0);
    const batch = Math.floor(this.#staging.length / d);
    for (const block of blocks) {
      const rows = block.length / d;
      for (let r0 = 0; r0 < rows; r0 += batch) {
        const count = Math.min(batch, rows - r0);
        this.#staging.set(block.subarray(r0 * d, (r0 + count) * d));
        this.#kernels.columnSums(0, count, d, this.mean.byteOffset);
      }
    }
  }

  /**
   * {@link centreChunk} into {@link chunk}, around {@link mean}: features `[j0, j0 + chunkLength)` of the rows;
   * the largest |x − mean|.
   */
  centre(blocks: readonly Float32Array[], j0: number, scale: number): number {
    const d = this.#d;
    const chunkLength = this.#chunkLength;
    const j1 = Math.min(d, j0 + chunkLength);
    let i = 0;
    for (const data of blocks) {
      for (let offset = 0; offset < data.length; offset += d, i++) this.chunk.set(data.subarray(offset + j0, offset + j1), i * chunkLength);
    }
    return this.#kernels.centreChunk(0, this.#n, chunkLength, j1 - j0, this.mean.byteOffset + j0 * 8, scale);
  }
}

/**
 * Writes the centred features `[j0, j0 + chunkLength)` of the rows ((x − mean) rounded to float32, then
 * divided by `scale`) into `chunk` `[rows, chunkLength]` (zero past `d`); returns the largest |x − mean|.
 */
function centreChunk(blocks: readonly Float32Array[], d: number, mean: Float64Array, j0: number, chunkLength: number, scale: number, chunk: Float32Array): number {
  const j1 = Math.min(d, j0 + chunkLength);
  let largest = 0;
  let i = 0;
  for (const data of blocks) {
    for (let rowOffset = 0; rowOffset < data.length; rowOffset += d, i++) {
      const offset = i * chunkLength - j0;
      for (let j = j0; j < j1; j++) {
        const value = Math.fround(data[rowOffset + j]! - mean[j]!);
        chunk[offset + j] = value / scale;
        largest = Math.max(largest, Math.abs(value));
      }
      if (j1 - j0 < chunkLength) chunk.fill(0, i * chunkLength + (j1 - j0), (i + 1) * chunkLength);
    }
  }
  return largest;
}

/**
 * product[r, c] += values[r, c − i0] for rows r < i1 and columns c in [max(r, i0), i1) — the upper triangle's
 * part of `values` `[i1, i1 − i0]`; `first`: = instead of += (the first chunk: the target is never zero-filled
 * first, which at 2000 rows would be 16 MB of fresh pages written once more).
 */
function addGramBlock(product: Float64Array, n: number, values: Float32Array, i0: number, i1: number, first: boolean): void {
  const width = i1 - i0;
  for (let r = 0; r < i1; r++) {
    const from = Math.max(r, i0);
    const source = r * width - i0;
    const destination = r * n;
    if (first) for (let c = from; c < i1; c++) product[destination + c] = values[source + c]!;
    else for (let c = from; c < i1; c++) product[destination + c]! += values[source + c]!;
  }
}

/** Copies the upper triangle of the `[n, n]` row-major matrix onto the lower one, in 32 × 32 tiles. */
function mirrorUpper(product: Float64Array, n: number): void {
  const TILE = 32;
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    for (let j0 = 0; j0 <= i0; j0 += TILE) {
      for (let i = i0; i < i1; i++) {
        const j1 = Math.min(i, j0 + TILE);
        for (let j = j0; j < j1; j++) product[i * n + j] = product[j * n + i]!;
      }
    }
  }
}

/**
 * Rows `[i0, i1)` of `X Xᵀ` against columns `[0, i1)` for `[rows, width]` row-major float32 `x`:
 * `X[i0:i1] · X[0:i1]ᵀ`, both operands contiguous views.
 */
function lowerBlock(x: Float32Array, i0: number, i1: number, width: number): ProductRequest {
  return { ...upperBlock(x, i0, i1, width), a: x.subarray(i0 * width, i1 * width), b: x.subarray(0, i1 * width), m: i1 - i0, n: i1 };
}

/**
 * Columns `[i0, i1)` of `X Xᵀ` against rows `[0, i1)` (the upper triangle's part, and below it) for
 * `[rows, width]` row-major float32 `x`: `X[0:i1] · X[i0:i1]ᵀ`, both operands contiguous views.
 */
function upperBlock(x: Float32Array, i0: number, i1: number, width: number): ProductRequest {
  return {
    a: x.subarray(0, i1 * width),
    b: x.subarray(i0 * width, i1 * width),
    m: i1,
    k: width,
    n: i1 - i0,
    transposeA: false,
    transposeB: true,
    precision: 'float32',
  };
}

/**
 * The Gram route's chunk length along the features for `d` features (see {@link gramProducts}): 256, or
 * 1024 once d > 2048 (the float64 sum of an n×n product per chunk costs more than the product at 256).
 */
export function gramChunk(d: number): number {
  return d > 2048 ? 1024 : 256;
}

/** Where {@link accumulateScatter} adds its sums. */
export type ScatterTarget = {
  /**
   * `'packed'`: a packed lower triangle of `packedLength(d)` entries; `'lower'`: the lower triangle of a
   * full `[d, d]` row-major matrix (the upper one is not touched).
   */
  layout: 'packed' | 'lower';
  scatter: Float64Array;
  /** `[d]`, receives `Σ (x − shift)` in float64 (exact differences, not the float32-rounded ones). */
  sum: Float64Array;
  /** A float32 work buffer of at least `min(n, CHUNK) · d` entries to use instead of allocating one per call. */
  scratch?: Float32Array;
};

/**
 * Adds `Σ (x − shift)(x − shift)ᵀ` (lower triangle) and `Σ (x − shift)` over the `n` rows of `[n, d]`
 * row-major float32 `rows` to `target`. The rows are taken in consecutive chunks of {@link CHUNK}: each
 * chunk's centred values are rounded to float32 (divided first by a power of two when their magnitude
 * would overflow or underflow a float32 square; see {@link powerOfTwoScale}), multiplied as float32
 * products, and the product is added in float64 (times the square of that power of two).
 */
export function* accumulateScatter(target: ScatterTarget, rows: Float32Array, n: number, d: number, shift: Float64Array): ProductWork<void> {
  const { layout, scatter, sum, scratch } = target;
  const needed = Math.min(n, CHUNK) * d;
  // A fresh buffer costs its page faults on every call (measured: 16 MB at D = 4096 took 75 ms per chunk
  // against 27 ms reused), so callers that accumulate many batches pass one.
  const transposedBuffer = scratch !== undefined && scratch.length >= needed ? scratch : new Float32Array(needed);
  for (let r0 = 0; r0 < n; r0 += CHUNK) {
    const m = Math.min(CHUNK, n - r0);
    const largest = addCentredSums(rows, r0, m, d, shift, sum);
    const scale = powerOfTwoScale(largest);
    // chunkᵀ `[d, m]`: feature j's values over the chunk's rows are row j, so a block of output rows is a
    // contiguous view, and the lower triangle is `Cᵀ[i0:i1] · Cᵀ[0:i1]ᵀ`.
    const transposed = transposedBuffer.subarray(0, d * m);
    transposeCentred(rows, r0, m, d, shift, scale, transposed);
    const factor = scale * scale;
    // Only the lower triangle is needed: output rows [i0, i1) against columns [0, i1), a block at a time
    // (about half the flops of the full product, and a block instead of D² floats read back at once).
    for (let i0 = 0; i0 < d; i0 += ROW_BLOCK) {
      const i1 = Math.min(d, i0 + ROW_BLOCK);
      const values = (yield lowerBlock(transposed, i0, i1, m)) as Float32Array;
      addLowerBlock(values, i0, i1, d, layout, scatter, factor);
    }
  }
}

// The loops below live outside the generator: V8 optimises plain functions' loops better (measured: the
// accumulation's JavaScript took 1.6 s of a 10 s fit at 8000 × 4096 inside the generator).

/** Adds `rows[r0 + r] − shift` (float64) of m rows to `sum`; returns their largest magnitude. */
function addCentredSums(rows: Float32Array, r0: number, m: number, d: number, shift: Float64Array, sum: Float64Array): number {
  let largest = 0;
  for (let r = 0; r < m; r++) {
    const rowOffset = (r0 + r) * d;
    for (let j = 0; j < d; j++) {
      const value = rows[rowOffset + j]! - shift[j]!;
      sum[j]! += value;
      // Math.max / Math.abs, not comparisons and branches: 4.5× faster here (measured on V8 12).
      largest = Math.max(largest, Math.abs(value));
    }
  }
  return largest;
}

/**
 * `out` `[d, m]` = the transpose of `rows[r0 … r0 + m] − shift` `[m, d]` divided by `scale`, rounded to float32
 * once (the difference is exact in float64); in 16 × 16 tiles (2.3× faster than strips of 64 features).
 */
function transposeCentred(rows: Float32Array, r0: number, m: number, d: number, shift: Float64Array, scale: number, out: Float32Array): void {
  const inverse = 1 / scale;
  const TILE = 16;
  for (let rTile = 0; rTile < m; rTile += TILE) {
    const rEnd = Math.min(m, rTile + TILE);
    for (let jTile = 0; jTile < d; jTile += TILE) {
      const jEnd = Math.min(d, jTile + TILE);
      for (let r = rTile; r < rEnd; r++) {
        const offset = (r0 + r) * d;
        for (let j = jTile; j < jEnd; j++) out[j * m + r] = (rows[offset + j]! - shift[j]!) * inverse;
      }
    }
  }
}

/** Adds rows `[i0, i1)` × columns `[0, i]` of a `[i1 − i0, i1]` product block (times `factor`) to the scatter. */
function addLowerBlock(
  values: Float32Array,
  i0: number,
  i1: number,
  d: number,
  layout: 'packed' | 'lower',
  scatter: Float64Array,
  factor: number,
): void {
  for (let i = i0; i < i1; i++) {
    const source = (i - i0) * i1;
    const destination = layout === 'packed' ? packedRow(i) : i * d;
    if (factor === 1) {
      for (let j = 0; j <= i; j++) scatter[destination + j]! += values[source + j]!;
    } else {
      for (let j = 0; j <= i; j++) scatter[destination + j]! += values[source + j]! * factor;
    }
  }
}
