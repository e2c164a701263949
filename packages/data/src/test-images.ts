/** Test-only helpers: temp folders and small images generated on the fly. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** A fresh temp folder and a function removing it. */
export function tempDir(prefix = 'dfm-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes bytes, creating parent folders. */
export function writeBytes(path: string, bytes: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** Deterministic RGB bytes [h, w, 3]: v = (7x + 13y + 29c + offset) mod 256. */
export function patternRgb(height: number, width: number, offset = 0): Uint8Array {
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = (7 * x + 13 * y + 29 * c + offset) % 256;
  return out;
}

/** A PNG of `patternRgb`. */
export async function writePng(path: string, height: number, width: number, offset = 0): Promise<string> {
  const bytes = await sharp(patternRgb(height, width, offset), { raw: { width, height, channels: 3 } }).png().toBuffer();
  return writeBytes(path, bytes);
}

/** A binary mask PNG (255 inside the rectangle [y0,y1)×[x0,x1)). */
export async function writeMask(path: string, height: number, width: number, rect = [0, 1, 0, 1]): Promise<string> {
  const data = new Uint8Array(height * width);
  const [y0, y1, x0, x1] = rect as [number, number, number, number];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 255;
  const bytes = await sharp(data, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return writeBytes(path, bytes);
}

/**
 * Encodes a BMP (test fixture writer, independent of the decoder): 24/32-bit BI_RGB, 8-bit
 * palette (indices = grey levels of a palette mapping i → (i, 255 - i, i / 2)), 32-bit bitfields.
 */
export function encodeBmp(
  rgb: Uint8Array,
  height: number,
  width: number,
  options: { bits: 8 | 24 | 32; topDown?: boolean; bitfields?: boolean },
): Uint8Array {
  const { bits, topDown = false, bitfields = false } = options;
  const stride = Math.floor((bits * width + 31) / 32) * 4;
  const paletteBytes = bits === 8 ? 256 * 4 : 0;
  const headerSize = bitfields ? 108 : 40;
  const offset = 14 + headerSize + paletteBytes;
  const size = offset + stride * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, offset, true);
  view.setUint32(14, headerSize, true);
  view.setInt32(18, width, true);
  view.setInt32(22, topDown ? -height : height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bits, true);
  view.setUint32(30, bitfields ? 3 : 0, true);
  view.setUint32(34, stride * height, true);
  if (bitfields) {
    view.setUint32(54, 0x00ff0000, true);
    view.setUint32(58, 0x0000ff00, true);
    view.setUint32(62, 0x000000ff, true);
    view.setUint32(66, 0xff000000, true);
  }
  if (bits === 8) {
    view.setUint32(46, 256, true);
    for (let i = 0; i < 256; i++) {
      const at = 14 + headerSize + i * 4;
      out[at] = i >> 1; // B
      out[at + 1] = 255 - i; // G
      out[at + 2] = i; // R
    }
  }
  for (let y = 0; y < height; y++) {
    const row = offset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      if (bits === 8) out[row + x] = rgb[p]!; // index = red value
      else {
        const at = row + x * (bits / 8);
        out[at] = rgb[p + 2]!;
        out[at + 1] = rgb[p + 1]!;
        out[at + 2] = rgb[p]!;
        if (bits === 32) out[at + 3] = 77; // alpha / padding, must be ignored
      }
    }
  }
  return out;
}
