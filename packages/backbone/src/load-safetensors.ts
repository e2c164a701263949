import { nodeBuiltin } from './node-builtin';
import { CorruptFileError, InvalidArgumentError } from '@dfm/errors';

/** Element types of the safetensors format that this reader decodes. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One decoded tensor. F64 stays Float64Array (lossless, for model files); every other dtype becomes Float32Array. */
export interface SafetensorsTensor {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface LoadSafetensorsOptions {
  /** Name used for the file in error messages when `pathOrBytes` is bytes. Default `<bytes>`. */
  label?: string;
  /** Largest header accepted, in bytes. Default 100 MB (the format's own limit). */
  maxHeaderBytes?: number;
  /**
   * Refuse NaN and ±Infinity values with a CorruptFileError naming the tensor, the element and the
   * file (weights and model files never hold them). Default false: the format itself allows them.
   */
  requireFinite?: boolean;
}

export interface LoadSafetensorsResult {
  /** Tensors in file order (by data offset). */
  tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map, when the file has one. */
  metadata: Record<string, string> | undefined;
}

const DEFAULT_MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads a safetensors file (8-byte little-endian header length, JSON header, raw little-endian
 * data) with every length, offset and shape checked against the file. F16 and BF16 are widened to
 * float32; integers are converted to float32 (I64 beyond 2^53 loses precision).
 *
 * Throws CorruptFileError (with `file` set) naming the file and the fault: truncated file, header
 * length beyond the file or the limit, invalid JSON, unknown dtype, bad shape, offsets that
 * overlap, leave holes or run past the end, or a byte count that does not match the shape.
 *
 * @example
 * const { tensors, metadata } = loadSafetensors('model.safetensors');
 * tensors.get('conv1.weight')?.shape; // [64, 3, 7, 7]
 */
export function loadSafetensors(
  pathOrBytes: string | Uint8Array,
  options: LoadSafetensorsOptions = {},
): LoadSafetensorsResult {
  const { maxHeaderBytes = DEFAULT_MAX_HEADER, requireFinite = false } = options;
  let bytes: Uint8Array;
  let file: string;
  if (typeof pathOrBytes === 'string') {
    file = pathOrBytes;
    try {
      const buffer = nodeBuiltin('fs', `loadSafetensors('${pathOrBytes}')`).readFileSync(pathOrBytes);
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (cause) {
      throw new InvalidArgumentError(
        `loadSafetensors(): expected a readable safetensors file — cannot read ${pathOrBytes} (${(cause as Error).message}). Check the path.`,
        { cause },
      );
    }
  } else if (pathOrBytes instanceof Uint8Array) {
    file = options.label ?? '<bytes>';
    // A plain Uint8Array view, so that slice() copies even when given a Node Buffer.
    bytes = new Uint8Array(pathOrBytes.buffer, pathOrBytes.byteOffset, pathOrBytes.byteLength);
  } else {
    throw new InvalidArgumentError(
      `loadSafetensors(): expected a path or a Uint8Array — got ${typeof pathOrBytes}. Pass the file's path or its bytes.`,
    );
  }

  const fail = (fault: string): never => {
    throw new CorruptFileError(`loadSafetensors(): ${file} is not a valid safetensors file — ${fault}.`, { file });
  };

  if (bytes.length < 8) fail(`it has ${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(maxHeaderBytes)) {
    fail(`the header length ${headerLength64} exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  const headerLength = Number(headerLength64);
  if (headerLength < 2) fail(`the header length ${headerLength} is too small for a JSON object`);
  if (8 + headerLength > bytes.length) {
    fail(`the header length ${headerLength} runs past the end of the file (${bytes.length} bytes): truncated`);
  }

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
    header = JSON.parse(text);
  } catch (cause) {
    throw new CorruptFileError(
      `loadSafetensors(): ${file} is not a valid safetensors file — its header is not UTF-8 JSON (${(cause as Error).message}).`,
      { file, cause },
    );
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail('its header is not a JSON object');
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> | undefined;
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ is not an object');
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== 'string') fail(`__metadata__.${key} is not a string`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_SIZE, dtype)) {
      fail(
        `tensor "${name}" has dtype ${JSON.stringify(dtype)}, not one of ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) {
      fail(`tensor "${name}" ends at byte ${end} of a data section of ${dataLength} bytes: truncated`);
    }
    const typedShape = shape as number[];
    const count = typedShape.reduce((a, d) => a * d, 1);
    const expectedBytes = count * SAFETENSORS_DTYPE_SIZE[dtype as SafetensorsDtype];
    if (end - begin !== expectedBytes) {
      fail(
        `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) needs ${expectedBytes} bytes but data_offsets give ${end - begin}`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: [...typedShape], begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const entry of entries) {
    if (entry.begin !== cursor) {
      fail(
        entry.begin < cursor
          ? `tensor "${entry.name}" overlaps the previous tensor (starts at ${entry.begin}, before ${cursor})`
          : `there is a hole in the data before tensor "${entry.name}" (bytes ${cursor}..${entry.begin})`,
      );
    }
    cursor = entry.end;
  }
  if (cursor !== dataLength) {
    fail(`the tensors cover ${cursor} bytes but the data section has ${dataLength}`);
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of entries) {
    const raw = bytes.subarray(dataStart + entry.begin, dataStart + entry.end);
    const data = decode(entry.dtype, raw);
    if (requireFinite) {
      for (let i = 0; i < data.length; i++) {
        const value = data[i]!;
        if (value - value !== 0) {
          throw new CorruptFileError(
            `loadSafetensors(): ${file} must hold finite values — tensor "${entry.name}" has ${value} at element ${i}. The file is damaged or was saved from a diverged model: download or export it again.`,
            { file },
          );
        }
      }
    }
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { tensors, metadata };
}

/** Decodes little-endian raw bytes of `dtype` to float32 (float64 for F64). */
function decode(dtype: SafetensorsDtype, raw: Uint8Array): Float32Array | Float64Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copyBytes(raw).buffer);
      const out = new Float32Array(raw.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      if (LITTLE_ENDIAN_HOST) return new Float64Array(copyBytes(raw).buffer);
      const out = new Float64Array(raw.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(raw.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const words = new Uint32Array(raw.length / 2);
      for (let i = 0; i < words.length; i++) words[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(words.buffer);
    }
    case 'I64': {
      const out = new Float32Array(raw.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    }
    case 'I32': {
      const out = new Float32Array(raw.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I16': {
      const out = new Float32Array(raw.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case 'I8':
      return Float32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.length));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(raw);
  }
}

/** A copy in a fresh, aligned ArrayBuffer (Uint8Array.prototype.slice copies; Buffer#slice would not). */
function copyBytes(raw: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(raw);
}

/** IEEE 754 binary16 bits → number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
