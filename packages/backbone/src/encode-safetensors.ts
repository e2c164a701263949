import { InvalidArgumentError } from '@dfm/errors';

/** A tensor to write: Float32Array is stored as F32, Float64Array as F64. */
export interface EncodableTensor {
  shape: readonly number[];
  data: Float32Array | Float64Array;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Writes tensors (and an optional `__metadata__` string map) in the safetensors format: an 8-byte
 * little-endian header length, a JSON header padded with spaces to a multiple of 8 bytes, then the
 * raw little-endian data, contiguous, in the order of `tensors`' keys.
 *
 * @example
 * const bytes = encodeSafetensors({ mean: { shape: [2], data: new Float64Array([1, 2]) } }, { format: 'dfm' });
 * loadSafetensors(bytes).tensors.get('mean')?.data; // Float64Array [1, 2]
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, EncodableTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new InvalidArgumentError(
          `encodeSafetensors(): metadata values must be strings — metadata.${key} is ${typeof value}. Serialise it (e.g. JSON.stringify) first.`,
        );
      }
    }
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  const parts: { data: Float32Array | Float64Array; begin: number }[] = [];
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === '__metadata__') {
      throw new InvalidArgumentError(
        'encodeSafetensors(): tensor names must not be "__metadata__" — got a tensor with that name. Rename it.',
      );
    }
    const { shape, data } = tensor;
    let dtype: 'F32' | 'F64';
    if (data instanceof Float32Array) dtype = 'F32';
    else if (data instanceof Float64Array) dtype = 'F64';
    else {
      throw new InvalidArgumentError(
        `encodeSafetensors(): tensor "${name}" must hold a Float32Array or Float64Array — got ${Object.prototype.toString.call(data)}. Convert the data first.`,
      );
    }
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InvalidArgumentError(
        `encodeSafetensors(): tensor "${name}" shape must be non-negative integers — got [${shape.join(',')}]. Fix the shape.`,
      );
    }
    const count = shape.reduce((a, d) => a * d, 1);
    if (count !== data.length) {
      throw new InvalidArgumentError(
        `encodeSafetensors(): tensor "${name}" shape [${shape.join(',')}] needs ${count} values — got ${data.length}. Fix the shape or the data.`,
      );
    }
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
    parts.push({ data, begin: offset });
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.length % 8)) % 8;
  if (padding > 0) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.length;
  for (const { data, begin } of parts) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dataStart + begin);
    } else if (data instanceof Float32Array) {
      for (let i = 0; i < data.length; i++) view.setFloat32(dataStart + begin + 4 * i, data[i] as number, true);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat64(dataStart + begin + 8 * i, data[i] as number, true);
    }
  }
  return out;
}
