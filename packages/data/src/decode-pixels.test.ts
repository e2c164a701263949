import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImagePixels } from './decode-pixels';
import { loadImage } from './load-image';
import { normalizationAffine } from './normalization';
import { resizeBilinearAntialiased } from './resize';
import { encodeBmp, patternRgb, tempDir, writeBytes } from './test-images';
import { isDfmError } from '@dfm/errors';

// 37 wide × 29 high: odd sizes, a different factor per axis.
const H = 29;
const W = 37;
const rgb = patternRgb(H, W);
const raw = (data: Uint8Array | Uint16Array, channels: 1 | 3 | 4) => sharp(data, { raw: { width: W, height: H, channels } });
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
const CUSTOM = { mean: [0.3, 0.5, 0.7], std: [0.11, 0.35, 0.2] } as const;
let dir: string;
let cleanup: () => void;

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

/** Every fixture: what a dataset may hold. */
const fixtures: Array<[string, () => Promise<Uint8Array>]> = [
  ['png 8-bit RGB', () => raw(rgb, 3).png().toBuffer()],
  ['png grey', () => raw(Uint8Array.from({ length: H * W }, (_, i) => (i * 11) % 256), 1).toColourspace('b-w').png().toBuffer()],
  ['png RGBA (alpha dropped)', () => raw(Uint8Array.from({ length: H * W * 4 }, (_, i) => (i * 5 + 3) % 256), 4).png().toBuffer()],
  [
    'png 16-bit RGB',
    () => raw(Uint16Array.from({ length: H * W * 3 }, (_, i) => (i * 1237 + 1) % 65536), 3).toColourspace('rgb16').png().toBuffer(),
  ],
  ['jpeg with EXIF orientation 6', () => raw(rgb, 3).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer()],
  ['bmp 24-bit', async () => encodeBmp(rgb, H, W, { bits: 24 })],
];

function expectBitIdentical(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let differing = 0;
  for (let i = 0; i < actual.length; i++) if (!Object.is(actual[i], expected[i])) differing++;
  expect(differing).toBe(0);
}

describe('decodeImagePixels', () => {
  for (const [name, make] of fixtures) {
    it(`${name}: resizeBilinearAntialiased of its pixels equals loadImage bit for bit (path and bytes; 3 sizes, 2 normalisations)`, async () => {
      const path = writeBytes(join(dir, `${name.replace(/\W+/g, '-')}.img`), await make());
      const fromPath = await decodeImagePixels(path);
      const fromBytes = await decodeImagePixels(readFileSync(path));
      expect(fromBytes).toEqual(fromPath);
      expect(fromPath.channels).toBe(3);
      expect(fromPath.maxValue).toBe(name.includes('16-bit') ? 65535 : 255);
      expect(fromPath.data).toBeInstanceOf(name.includes('16-bit') ? Uint16Array : Uint8Array);
      expect(fromPath.data.length).toBe(fromPath.width * fromPath.height * 3);
      for (const size of [[16, 16], [23, 50], [fromPath.height, fromPath.width]] as const) {
        for (const normalize of [undefined, IMAGENET, CUSTOM]) {
          const expected = await loadImage(path, { size: [size[0], size[1]], normalize });
          const affine = normalize === undefined ? undefined : normalizationAffine(normalize, 'test');
          const { data, height, width, maxValue } = fromPath;
          expectBitIdentical(resizeBilinearAntialiased(data, height, width, 3, size[0], size[1], 1 / maxValue, affine), expected.data);
        }
      }
    });
  }

  it('EXIF orientation is applied: the pixels have the displayed size', async () => {
    const bytes = await raw(rgb, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const pixels = await decodeImagePixels(bytes);
    expect([pixels.height, pixels.width]).toEqual([W, H]);
  });

  it("with a sharp kernel (resize inside libvips) it equals loadImage({ kernel }) bit for bit", async () => {
    const path = writeBytes(join(dir, 'lanczos.png'), await raw(rgb, 3).png().toBuffer());
    const pixels = await decodeImagePixels(path, { resize: { height: 16, width: 20, kernel: 'lanczos3' } });
    expect([pixels.height, pixels.width]).toEqual([16, 20]);
    const expected = await loadImage(path, { size: [16, 20], kernel: 'lanczos3', normalize: IMAGENET });
    expectBitIdentical(
      resizeBilinearAntialiased(pixels.data, 16, 20, 3, 16, 20, 1 / pixels.maxValue, normalizationAffine(IMAGENET, 'test')),
      expected.data,
    );
  });

  it('refuses empty, corrupt and over-limit images and bad arguments with their codes', async () => {
    const code = async (promise: Promise<unknown>) => {
      try {
        await promise;
        return 'resolved';
      } catch (error) {
        return isDfmError(error) ? `${error.code}: ${error.message}` : String(error);
      }
    };
    expect(await code(decodeImagePixels(new Uint8Array(0)))).toMatch(/^E_IMAGE_DECODE: image <image bytes> is empty \(0 bytes\)/);
    expect(await code(decodeImagePixels(new Uint8Array([1, 2, 3, 4]), { label: 'upload 3' }))).toMatch(
      /^E_IMAGE_DECODE: image upload 3 is not a supported image/,
    );
    const png = await raw(rgb, 3).png().toBuffer();
    expect(await code(decodeImagePixels(png, { pixelLimit: 100 }))).toMatch(/^E_IMAGE_TOO_LARGE: image <image bytes> is 37×29 = 1073 pixels, above pixelLimit 100/);
    expect(await code(decodeImagePixels(join(dir, 'missing.png')))).toMatch(/^E_IMAGE_DECODE: cannot read image .*missing\.png \(ENOENT\)/);
    expect(await code(decodeImagePixels(42 as never))).toMatch(/^E_INVALID_ARGUMENT: decodeImagePixels\(\): source must be an image path or the file's bytes \(Uint8Array\) — got number/);
    expect(await code(decodeImagePixels(png, { resize: { height: 4, width: 4, kernel: 'bilinear-antialiased' as never } }))).toMatch(
      /^E_INVALID_ARGUMENT: decodeImagePixels\(\): resize must be/,
    );
  });
});
