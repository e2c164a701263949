import { describe, expect, it } from 'vitest';
import { decodeBmp, isBmp, readBmpHeader } from './bmp';
import { ImageDecodeError } from './errors';
import { encodeBmp, patternRgb } from './test-images';

describe('decodeBmp', () => {
  const rgb = patternRgb(5, 3); // odd width: rows are padded to 4 bytes
  it('decodes 24/32-bit, top-down and bottom-up, with row padding', () => {
    for (const options of [{ bits: 24 }, { bits: 24, topDown: true }, { bits: 32 }, { bits: 32, bitfields: true }] as const) {
      const bytes = encodeBmp(rgb, 5, 3, options);
      expect(isBmp(bytes)).toBe(true);
      expect(readBmpHeader(bytes, 'x.bmp')).toMatchObject({ width: 3, height: 5, topDown: 'topDown' in options });
      expect(decodeBmp(bytes, 'x.bmp')).toEqual({ data: rgb, width: 3, height: 5 });
    }
  });

  it('decodes 16-bit 5-5-5 and 1-bit palette images written by hand', () => {
    // 2×1, 16-bit BI_RGB: pure red (0x7c00) and pure blue (0x001f).
    const b16 = new Uint8Array(14 + 40 + 4);
    const v = new DataView(b16.buffer);
    b16.set([0x42, 0x4d]);
    v.setUint32(10, 54, true);
    v.setUint32(14, 40, true);
    v.setInt32(18, 2, true);
    v.setInt32(22, 1, true);
    v.setUint16(28, 16, true);
    v.setUint16(54, 0x7c00, true);
    v.setUint16(56, 0x001f, true);
    expect(Array.from(decodeBmp(b16, 'a.bmp').data)).toEqual([255, 0, 0, 0, 0, 255]);
    // 3×1, 1-bit, palette [black, white], bits 1 0 1.
    const b1 = new Uint8Array(14 + 40 + 8 + 4);
    const w = new DataView(b1.buffer);
    b1.set([0x42, 0x4d]);
    w.setUint32(10, 62, true);
    w.setUint32(14, 40, true);
    w.setInt32(18, 3, true);
    w.setInt32(22, 1, true);
    w.setUint16(28, 1, true);
    b1.set([255, 255, 255, 0], 58);
    b1[62] = 0b10100000;
    expect(Array.from(decodeBmp(b1, 'b.bmp').data)).toEqual([255, 255, 255, 0, 0, 0, 255, 255, 255]);
  });

  it('refuses RLE and other compressions with an error naming the file', () => {
    const bytes = encodeBmp(rgb, 5, 3, { bits: 8 });
    new DataView(bytes.buffer).setUint32(30, 1, true);
    expect(() => decodeBmp(bytes, 'rle.bmp')).toThrow(ImageDecodeError);
    expect(() => decodeBmp(bytes, 'rle.bmp')).toThrow(/cannot decode BMP rle\.bmp — RLE8 compression is not supported\. Re-save the file as PNG\./);
  });
});
