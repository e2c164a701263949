import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';

/** Internal argument checks shared by {@link PCA} and {@link SingleClassGaussian}. */

/** Throws unless `x` is a rank-2 tensor `[nSamples, nFeatures]` (optionally with a required column count). */
export function assertFeatures(x: unknown, caller: string, expectedFeatures?: number): asserts x is tf.Tensor2D {
  if (!(x instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${caller}: features must be a tf.Tensor2D [nSamples, nFeatures] — got ${x === null ? 'null' : typeof x}. Wrap the data with tf.tensor2d().`,
    );
  }
  if (x.isDisposed) {
    throw new InvalidArgumentError(`${caller}: features must be a live tensor — got a disposed one. Do not dispose it before the call.`);
  }
  if (x.rank !== 2) {
    throw new ShapeMismatchError(
      `${caller}: features must be rank 2 [nSamples, nFeatures] — got ${formatShape(x.shape)}. Flatten first, e.g. x.reshape([x.shape[0], -1]).`,
    );
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new InvalidArgumentError(`${caller}: features must be float32 — got dtype ${x.dtype}. Cast with x.toFloat().`);
  }
  if (expectedFeatures !== undefined && x.shape[1] !== expectedFeatures) {
    throw new ShapeMismatchError(
      `${caller}: features must have ${expectedFeatures} columns (the fitted nFeatures) — got ${formatShape(x.shape)}. Pass features from the same extractor as fit().`,
    );
  }
}

/** Reads a rank-2 tensor's values as float32, throwing on NaN or ±Infinity. */
export function readFiniteValues(x: tf.Tensor2D, caller: string): Float32Array {
  const raw = x.dataSync();
  const values = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
  assertFiniteValues(values, x.shape[1], caller);
  return values;
}

/**
 * Rows of the 2-D tensor `x` read a block at a time (a {@link RowSource} for PCA's fits), each checked to be
 * finite (but for a `transient` read, whose caller checks). On tfjs-wasm a block is copied straight out of
 * the backend's memory (its `readSync(dataId, start, end)`), so the whole `[n, d]` is never copied out at once
 * (`tf.slice` would be the portable way, but it runs at ~50 MB/s there: 2.9 s for 8000 × 4096), or, for a
 * `transient` read, viewed there without a copy; elsewhere the tensor's data is read once and viewed in blocks.
 */
export function tensorRows(x: tf.Tensor2D, caller: string): (r0: number, r1: number, transient?: boolean) => Float32Array {
  const d = x.shape[1];
  type WasmInternals = {
    readSync(dataId: object, start?: number, end?: number): unknown;
    dataIdMap?: { get(dataId: object): { memoryOffset?: unknown } | undefined };
    wasm?: { HEAPU8?: Uint8Array };
  };
  const backend = tf.getBackend() === 'wasm' && x.dtype === 'float32' ? (tf.backend() as unknown as WasmInternals) : null;
  let whole: Float32Array | null = null;
  const wholeRows = (): Float32Array => {
    if (whole === null) {
      const raw = x.dataSync();
      whole = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
    }
    return whole;
  };
  return (r0, r1, transient = false) => {
    if (transient) {
      // A view of tfjs-wasm's heap, no copy (a fresh copy of 16 MB costs ~60 ms of page faults on a VM): only
      // for a caller that reads it at once, before any tfjs op could grow (and so move) the heap, and checks
      // the values itself. Elsewhere the whole tensor, read once and kept.
      const offset = backend?.dataIdMap?.get(x.dataId)?.memoryOffset;
      const heap = backend?.wasm?.HEAPU8;
      if (typeof offset === 'number' && heap instanceof Uint8Array && offset % 4 === 0 && offset + r1 * d * 4 <= heap.byteLength) {
        return new Float32Array(heap.buffer, heap.byteOffset + offset + r0 * d * 4, (r1 - r0) * d);
      }
      return wholeRows().subarray(r0 * d, r1 * d);
    }
    let values: Float32Array | null = null;
    if (backend !== null) {
      try {
        const block = backend.readSync(x.dataId, r0 * d, r1 * d);
        if (block instanceof Float32Array && block.length === (r1 - r0) * d) values = block;
      } catch {
        // not this backend's tensor: read it whole below
      }
    }
    if (values === null) values = wholeRows().subarray(r0 * d, r1 * d);
    assertFiniteValues(values, d, caller, r0);
    return values;
  };
}

/** Throws on the first NaN or ±Infinity of row-major `values` with `cols` columns, naming sample and feature. */
export function assertFiniteValues(values: Float32Array, cols: number, caller: string, firstRow = 0): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value - value !== 0) {
      throw new InvalidArgumentError(
        `${caller}: features must be finite — got ${value} at sample ${firstRow + Math.floor(i / cols)}, feature ${i % cols}. Remove or impute NaN/Infinity first.`,
      );
    }
  }
}

/** Throws unless there are at least two samples and one feature. */
export function assertEnoughSamples(x: tf.Tensor2D, caller: string): void {
  const [nSamples, nFeatures] = x.shape;
  if (nSamples === 0 || nFeatures === 0) {
    throw new InvalidArgumentError(
      `${caller}: features must not be empty — got ${formatShape(x.shape)}. Pass at least 2 samples with 1 feature.`,
    );
  }
  if (nSamples < 2) {
    throw new InvalidArgumentError(
      `${caller}: at least 2 samples are needed to estimate a variance — got ${formatShape(x.shape)}. Fit on more samples.`,
    );
  }
}
