import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageDecodeError } from './errors';
import { loadMask } from './load-mask';
import { tempDir, writeBytes } from './test-images';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

describe('loadMask', () => {
  it('turns every value > 0 into 1 (8-bit grey)', async () => {
    const values = Uint8Array.from([0, 1, 2, 128, 255, 0, 0, 7]);
    const path = writeBytes(join(dir, 'grey.png'), await sharp(values, { raw: { width: 4, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    const mask = await loadMask(path);
    expect(mask).toMatchObject({ height: 2, width: 4, originalHeight: 2, originalWidth: 4, path });
    expect(Array.from(mask.data)).toEqual([0, 1, 1, 1, 1, 0, 0, 1]);
  });

  it('counts any colour channel, ignores alpha, and keeps 16-bit value 1', async () => {
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 3, 0, 0, 0, 0, 0]);
    const rgbaPath = writeBytes(join(dir, 'rgba.png'), await sharp(rgba, { raw: { width: 4, height: 1, channels: 4 } }).png().toBuffer());
    expect(Array.from((await loadMask(rgbaPath)).data)).toEqual([1, 0, 1, 0]);
    const sixteen = Uint16Array.from([0, 1, 0, 65535]);
    const p16 = writeBytes(join(dir, 'grey16.png'), await sharp(sixteen, { raw: { width: 4, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer());
    expect(Array.from((await loadMask(p16)).data)).toEqual([0, 1, 0, 1]);
  });

  it('resizes with nearest neighbour, so it stays binary', async () => {
    const values = new Uint8Array(8 * 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) values[y * 8 + x] = x >= 4 && y < 2 ? 200 : 0;
    const path = writeBytes(join(dir, 'rect.png'), await sharp(values, { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    const mask = await loadMask(path, { size: 4 });
    expect([mask.height, mask.width, mask.originalHeight]).toEqual([4, 4, 8]);
    expect(Array.from(mask.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const up = await loadMask(path, { size: [16, 12] });
    expect(new Set(up.data)).toEqual(new Set([0, 1]));
  });

  it('names the mask file on errors', async () => {
    const path = writeBytes(join(dir, 'empty_mask.png'), new Uint8Array(0));
    await expect(loadMask(path)).rejects.toThrow(ImageDecodeError);
    await expect(loadMask(path)).rejects.toThrow(/mask .*empty_mask\.png is empty \(0 bytes\)/);
  });
});
