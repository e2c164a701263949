/**
 * A minimal PNG encoder for tests (no sharp in @dfm/core's dependencies): grey, grey+alpha, RGB
 * and RGBA, 8 or 16 bits, filter 0, one IDAT. Written from the PNG specification (ISO/IEC 15948),
 * independent of the decoder under test.
 */
import { crc32, deflateSync } from 'node:zlib';

const COLOR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;

/** One PNG chunk: length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

/** PNG bytes of interleaved HWC pixels (`Uint16Array` = 16-bit). */
export function encodePng(data: Uint8Array | Uint16Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Buffer {
  const bytesPerValue = data instanceof Uint16Array ? 2 : 1;
  const rowBytes = width * channels * bytesPerValue;
  const raw = Buffer.alloc(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (rowBytes + 1) + 1; // byte 0 of each row: filter type 0 (none)
    for (let i = 0; i < width * channels; i++) {
      const value = data[y * width * channels + i]!;
      if (bytesPerValue === 2) raw.writeUInt16BE(value, row + 2 * i);
      else raw[row + i] = value;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bytesPerValue * 8;
  header[9] = COLOR_TYPE[channels];
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}
