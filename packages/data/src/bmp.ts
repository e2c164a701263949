/**
 * A small BMP decoder: libvips (and so sharp) has no BMP loader. Supports the BMPs that cameras,
 * Windows tools and PIL write: uncompressed (BI_RGB) 1/4/8-bit palette, 16/24/32-bit, and
 * BI_BITFIELDS / BI_ALPHABITFIELDS 16/32-bit; bottom-up and top-down rows; core (OS/2 v1),
 * INFO, V2–V5 headers. RLE and embedded JPEG/PNG compression are refused with a clear error.
 * Alpha is dropped (as everywhere in this package).
 */
import { ImageDecodeError } from './errors';

/** What a BMP header declares, read without touching the pixels. */
export interface BmpHeader {
  width: number;
  height: number;
  bitsPerPixel: number;
  compression: number;
  topDown: boolean;
  dataOffset: number;
  headerSize: number;
}

/** Decoded BMP pixels: RGB, 8 bits, row-major top-down. */
export interface BmpImage {
  data: Uint8Array;
  width: number;
  height: number;
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'RLE8',
  2: 'RLE4',
  4: 'embedded JPEG',
  5: 'embedded PNG',
};

/** True when the bytes start with the BMP signature `BM`. */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function fail(file: string, what: string): never {
  throw new ImageDecodeError(`loadImage(): cannot decode BMP ${file} — ${what}. Re-save the file as PNG.`, {
    file,
  });
}

/** Reads the BMP header (dimensions, depth, compression). Throws {@link ImageDecodeError} on nonsense. */
export function readBmpHeader(bytes: Uint8Array, file: string): BmpHeader {
  if (!isBmp(bytes)) fail(file, 'no BM signature');
  if (bytes.length < 26) fail(file, `file too short for a BMP header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  let width: number;
  let height: number;
  let bitsPerPixel: number;
  let compression = 0;
  if (headerSize === 12) {
    width = view.getUint16(18, true);
    height = view.getInt16(20, true);
    bitsPerPixel = view.getUint16(24, true);
  } else if (headerSize >= 40) {
    if (bytes.length < 14 + 40) fail(file, 'truncated BMP header');
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bitsPerPixel = view.getUint16(28, true);
    compression = view.getUint32(30, true);
  } else {
    fail(file, `unknown BMP header size ${headerSize}`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) fail(file, `invalid size ${width}×${height}`);
  return { width, height, bitsPerPixel, compression, topDown, dataOffset, headerSize };
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

/**
 * Decodes a BMP file to 8-bit RGB. Callers check the pixel limit with {@link readBmpHeader} first.
 */
export function decodeBmp(bytes: Uint8Array, file: string): BmpImage {
  const header = readBmpHeader(bytes, file);
  const { width, height, bitsPerPixel: bpp, compression, topDown, dataOffset, headerSize } = header;
  const compressionName = COMPRESSION_NAMES[compression];
  if (compressionName !== undefined) fail(file, `${compressionName} compression is not supported`);
  if (compression !== 0 && compression !== 3 && compression !== 6) fail(file, `unknown compression ${compression}`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(file, `unsupported bit depth ${bpp}`);
  if ((compression === 3 || compression === 6) && bpp !== 16 && bpp !== 32) {
    fail(file, `BI_BITFIELDS with ${bpp} bits per pixel`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const infoEnd = 14 + headerSize;

  // Channel masks for 16/32-bit.
  let masks: [number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 14 + 40 : infoEnd;
    if (bytes.length < at + 12) fail(file, 'truncated bit-field masks');
    masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true)];
  } else if (bpp === 16) {
    masks = [0x7c00, 0x03e0, 0x001f];
  }

  // Palette for ≤ 8-bit.
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const entrySize = headerSize === 12 ? 3 : 4;
    const declared = headerSize >= 40 ? view.getUint32(46, true) : 0;
    const count = declared > 0 ? Math.min(declared, 256) : 1 << bpp;
    const start = infoEnd + (compression === 3 && headerSize === 40 ? 12 : compression === 6 && headerSize === 40 ? 16 : 0);
    if (bytes.length < start + count * entrySize) fail(file, 'truncated colour palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < count; i++) {
      const at = start + i * entrySize;
      palette[i * 3] = bytes[at + 2]!;
      palette[i * 3 + 1] = bytes[at + 1]!;
      palette[i * 3 + 2] = bytes[at]!;
    }
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    fail(file, `pixel data truncated: ${width}×${height}×${bpp} bits needs ${stride * height} bytes from offset ${dataOffset}, the file has ${bytes.length} bytes`);
  }
  const out = new Uint8Array(width * height * 3);
  const fields = masks?.map(maskShift);
  for (let row = 0; row < height; row++) {
    const y = topDown ? row : height - 1 - row;
    const rowStart = dataOffset + row * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette !== null) {
        let index: number;
        if (bpp === 8) index = bytes[rowStart + x]!;
        else if (bpp === 4) index = (bytes[rowStart + (x >> 1)]! >> (x & 1 ? 0 : 4)) & 0x0f;
        else index = (bytes[rowStart + (x >> 3)]! >> (7 - (x & 7))) & 1;
        out[o] = palette[index * 3]!;
        out[o + 1] = palette[index * 3 + 1]!;
        out[o + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24 || (bpp === 32 && fields === undefined)) {
        const at = rowStart + x * (bpp / 8);
        out[o] = bytes[at + 2]!;
        out[o + 1] = bytes[at + 1]!;
        out[o + 2] = bytes[at]!;
      } else {
        const value = bpp === 16 ? view.getUint16(rowStart + x * 2, true) : view.getUint32(rowStart + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = fields![c]!;
          out[o + c] = max === 0 ? 0 : Math.round((((value & masks![c]!) >>> shift) * 255) / max);
        }
      }
    }
  }
  return { data: out, width, height };
}
