import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageDecodeError, ImageTooLargeError } from './errors';
import { loadImage, readImageHeader } from './load-image';
import { resizeBilinearAntialiased } from './resize';
import { encodeBmp, patternRgb, tempDir, writeBytes } from './test-images';
import { InvalidArgumentError } from '@dfm/errors';

const H = 6;
const W = 8;
const rgb = patternRgb(H, W);
const raw = () => sharp(rgb, { raw: { width: W, height: H, channels: 3 } });
let dir: string;
let cleanup: () => void;
const file = (name: string) => join(dir, name);

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
const expected = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 255);

describe('loadImage: formats and bit depths', () => {
  const lossless: Array<[string, () => Promise<Uint8Array>]> = [
    ['png 8-bit', () => raw().png().toBuffer()],
    ['tiff 8-bit (lzw)', () => raw().tiff({ compression: 'lzw' }).toBuffer()],
    ['tiff 8-bit (uncompressed)', () => raw().tiff({ compression: 'none' }).toBuffer()],
    ['webp lossless', () => raw().webp({ lossless: true }).toBuffer()],
    ['bmp 24-bit bottom-up', async () => encodeBmp(rgb, H, W, { bits: 24 })],
    ['bmp 24-bit top-down', async () => encodeBmp(rgb, H, W, { bits: 24, topDown: true })],
    ['bmp 32-bit', async () => encodeBmp(rgb, H, W, { bits: 32 })],
    ['bmp 32-bit bitfields (V4 header)', async () => encodeBmp(rgb, H, W, { bits: 32, bitfields: true })],
  ];
  for (const [name, make] of lossless) {
    it(`${name} decodes exactly to RGB [0,1]`, async () => {
      const path = writeBytes(file(`${name.replace(/\W+/g, '-')}.img`), await make());
      const image = await loadImage(path);
      expect(image).toMatchObject({ height: H, width: W, channels: 3, originalHeight: H, originalWidth: W, path });
      expect(maxDiff(image.data, expected(rgb))).toBeLessThan(1e-7);
    });
  }

  it('bmp 8-bit palette', async () => {
    const path = writeBytes(file('palette8.bmp'), encodeBmp(rgb, H, W, { bits: 8 }));
    const image = await loadImage(path);
    // encodeBmp maps index i (= the red value) to the colour (i, 255 - i, i >> 1).
    const want = new Uint8Array(H * W * 3);
    for (let p = 0; p < H * W; p++) {
      const i = rgb[p * 3]!;
      want.set([i, 255 - i, i >> 1], p * 3);
    }
    expect(maxDiff(image.data, expected(want))).toBeLessThan(1e-7);
  });

  it('png 16-bit keeps 16-bit precision (v / 65535)', async () => {
    const values = Uint16Array.from({ length: H * W * 3 }, (_, i) => (i * 1237 + 1) % 65536);
    const path = writeBytes(file('rgb16.png'), await sharp(values, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    const image = await loadImage(path);
    expect(maxDiff(image.data, Float32Array.from(values, (v) => v / 65535))).toBeLessThan(1e-7);
  });

  it('tiff 16-bit keeps 16-bit precision', async () => {
    const values = Uint16Array.from({ length: H * W * 3 }, (_, i) => (i * 4099 + 3) % 65536);
    const bytes = await sharp(values, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer();
    const image = await loadImage(writeBytes(file('rgb16.tiff'), bytes));
    expect(maxDiff(image.data, Float32Array.from(values, (v) => v / 65535))).toBeLessThan(1e-7);
  });

  it('grey (8- and 16-bit) becomes three equal channels', async () => {
    const grey = Uint8Array.from({ length: H * W }, (_, i) => (i * 37) % 256);
    const grey16 = Uint16Array.from(grey, (v) => v * 256 + 7);
    const p8 = writeBytes(file('grey.png'), await sharp(grey, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    const p16 = writeBytes(file('grey16.png'), await sharp(grey16, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toBuffer());
    expect((await sharp(p8).metadata()).channels).toBe(1);
    for (const [path, values, max] of [[p8, grey, 255], [p16, grey16, 65535]] as const) {
      const image = await loadImage(path);
      const want = new Float32Array(H * W * 3);
      values.forEach((v, i) => {
        want.fill(v / max, i * 3, i * 3 + 3);
      });
      expect(maxDiff(image.data, want)).toBeLessThan(1e-7);
    }
  });

  it('drops alpha (RGBA, grey+alpha, palette+transparency) without compositing', async () => {
    const rgba = new Uint8Array(H * W * 4);
    for (let p = 0; p < H * W; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, p % 2 === 0 ? 0 : 128], p * 4);
    const rgbaPath = writeBytes(file('rgba.png'), await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer());
    expect(maxDiff((await loadImage(rgbaPath)).data, expected(rgb))).toBeLessThan(1e-7);

    const greyAlpha = Uint8Array.from({ length: H * W * 2 }, (_, i) => (i % 2 === 0 ? (i * 11) % 256 : 0));
    const gaPath = writeBytes(file('grey-alpha.png'), await sharp(greyAlpha, { raw: { width: W, height: H, channels: 2 } }).png().toBuffer());
    const ga = await loadImage(gaPath);
    for (let p = 0; p < H * W; p++) expect(ga.data.slice(p * 3, p * 3 + 3)).toEqual(new Float32Array(3).fill(greyAlpha[p * 2]! / 255));

    const palettePath = writeBytes(file('palette-alpha.png'), await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png({ palette: true, colours: 256, dither: 0 }).toBuffer());
    expect((await sharp(palettePath).metadata()).isPalette).toBe(true);
    const palette = await loadImage(palettePath);
    expect(palette.channels).toBe(3);
    expect(palette.data.length).toBe(H * W * 3);
  });

  it('palette PNG decodes to the palette colours', async () => {
    const few = Uint8Array.from(rgb, (v) => (v < 128 ? 40 : 200)); // 8 distinct colours at most
    const path = writeBytes(file('palette.png'), await sharp(few, { raw: { width: W, height: H, channels: 3 } }).png({ palette: true, dither: 0 }).toBuffer());
    expect((await sharp(path).metadata()).isPalette).toBe(true);
    expect(maxDiff((await loadImage(path)).data, expected(few))).toBeLessThan(3 / 255);
  });

  it('JPEG (RGB) and lossy WebP decode close to the source', async () => {
    const smooth = Uint8Array.from({ length: H * W * 3 }, (_, i) => 60 + ((i / 3) | 0) * 2 + (i % 3) * 30);
    const src = () => sharp(smooth, { raw: { width: W, height: H, channels: 3 } });
    const jpeg = writeBytes(file('rgb.jpg'), await src().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer());
    const webp = writeBytes(file('lossy.webp'), await src().webp({ quality: 100 }).toBuffer());
    expect(maxDiff((await loadImage(jpeg)).data, expected(smooth))).toBeLessThan(6 / 255);
    expect(maxDiff((await loadImage(webp)).data, expected(smooth))).toBeLessThan(12 / 255);
  });

  it('CMYK JPEG becomes RGB close to the source colours', async () => {
    const flat = new Uint8Array(H * W * 3);
    for (let p = 0; p < H * W; p++) flat.set(p < (H * W) / 2 ? [200, 40, 40] : [40, 40, 200], p * 3);
    const path = writeBytes(file('cmyk.jpg'), await sharp(flat, { raw: { width: W, height: H, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer());
    expect((await sharp(path).metadata()).space).toBe('cmyk');
    const image = await loadImage(path);
    const first = image.data.slice(0, 3);
    const last = image.data.slice(-3);
    expect(first[0]!).toBeGreaterThan(first[2]! + 0.3); // red stays red
    expect(last[2]!).toBeGreaterThan(last[0]! + 0.3); // blue stays blue
  });

  it('animated GIF and WebP give their first frame', async () => {
    const frames = new Uint8Array(2 * H * W * 3);
    frames.fill(50, 0, H * W * 3);
    frames.fill(200, H * W * 3);
    const animated = () => sharp(frames, { raw: { width: W, height: 2 * H, channels: 3, pageHeight: H } });
    for (const [name, bytes] of [
      ['anim.gif', await animated().gif().toBuffer()],
      ['anim.webp', await animated().webp({ lossless: true }).toBuffer()],
    ] as const) {
      const path = writeBytes(file(name), bytes);
      expect((await sharp(path).metadata()).pages).toBe(2);
      const image = await loadImage(path);
      expect([image.height, image.width]).toEqual([H, W]);
      expect(maxDiff(image.data, new Float32Array(H * W * 3).fill(50 / 255))).toBeLessThan(2 / 255);
    }
  });

  it('applies EXIF orientation 6 (rotate 90° clockwise)', async () => {
    // Stored 8 high × 16 wide: left half red, right half blue. Displayed: 16 high × 8 wide, red on top.
    const stored = new Uint8Array(8 * 16 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) stored.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
    const bytes = await sharp(stored, { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const path = writeBytes(file('orientation6.jpg'), bytes);
    expect((await sharp(path).metadata()).orientation).toBe(6);
    const image = await loadImage(path);
    expect([image.originalHeight, image.originalWidth, image.height, image.width]).toEqual([16, 8, 16, 8]);
    const at = (y: number, x: number) => Array.from(image.data.slice((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    expect(at(1, 4)[0]).toBeGreaterThan(0.9);
    expect(at(1, 4)[2]).toBeLessThan(0.1);
    expect(at(14, 4)[2]).toBeGreaterThan(0.9);
    expect(at(14, 4)[0]).toBeLessThan(0.1);
    expect(await readImageHeader(path)).toEqual({ format: 'jpeg', width: 8, height: 16 });
    // Resizing happens after orientation: [h, w] refers to the displayed image.
    const resized = await loadImage(path, { size: [4, 2] });
    expect(resized.data[0]).toBeGreaterThan(0.9);
  });
});

describe('loadImage: resize', () => {
  it('antialiases: a 1-px checkerboard downsampled 4× is ≈0.5 everywhere (exactly inside)', async () => {
    const n = 64;
    const board = new Uint8Array(n * n * 3);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) board.fill(((x + y) % 2) * 255, (y * n + x) * 3, (y * n + x) * 3 + 3);
    const path = writeBytes(file('checker.png'), await sharp(board, { raw: { width: n, height: n, channels: 3 } }).png().toBuffer());
    const image = await loadImage(path, { size: 16 });
    expect([image.height, image.width, image.originalHeight]).toEqual([16, 16, 64]);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const v = image.data[(y * 16 + x) * 3]!;
        expect(Math.abs(v - 0.5)).toBeLessThan(0.04); // borders: renormalised truncated window
        if (y > 0 && y < 15 && x > 0 && x < 15) expect(Math.abs(v - 0.5)).toBeLessThan(1e-6);
      }
    }
    const viaSharp = await loadImage(path, { size: 16, kernel: 'linear' });
    for (const v of viaSharp.data) expect(Math.abs(v - 0.5)).toBeLessThan(0.03);
    // Nearest neighbour would alias to pure 0/1: the antialiased output is nothing like it.
    const nearest = await sharp(path).resize({ width: 16, height: 16, fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
    expect(new Set(nearest)).toEqual(new Set([nearest[0]]));
  });

  it('resizes to [h, w] ignoring the aspect ratio, equal to the float resize of the decoded pixels', async () => {
    const big = patternRgb(40, 30, 5);
    const path = writeBytes(file('big.png'), await sharp(big, { raw: { width: 30, height: 40, channels: 3 } }).png().toBuffer());
    const image = await loadImage(path, { size: [16, 24] });
    expect([image.height, image.width, image.originalHeight, image.originalWidth]).toEqual([16, 24, 40, 30]);
    expect(maxDiff(image.data, resizeBilinearAntialiased(big, 40, 30, 3, 16, 24, 1 / 255))).toBeLessThan(1e-7);
  });

  it('agrees with libvips linear (an independent implementation) away from the borders', async () => {
    const smooth = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.round(127 + 100 * Math.sin(i / 37) * Math.cos(i / 411)));
    const path = writeBytes(file('smooth.png'), await sharp(smooth, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer());
    const ours = await loadImage(path, { size: 32 });
    const vips = await loadImage(path, { size: 32, kernel: 'linear' });
    let worst = 0;
    for (let y = 2; y < 30; y++) for (let x = 2; x < 30; x++) for (let c = 0; c < 3; c++) {
      const i = (y * 32 + x) * 3 + c;
      worst = Math.max(worst, Math.abs(ours.data[i]! - vips.data[i]!));
    }
    expect(worst).toBeLessThan(1.01 / 255); // libvips rounds to 8 bits
  });

  it('rejects a bad size or kernel with InvalidArgumentError', async () => {
    const path = writeBytes(file('ok.png'), await raw().png().toBuffer());
    await expect(loadImage(path, { size: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(loadImage(path, { size: [2.5, 3] })).rejects.toThrow(/size must be a positive integer/);
    await expect(loadImage(path, { kernel: 'box' as never })).rejects.toThrow(/kernel must be one of/);
  });
});

/** A valid PNG whose IHDR claims width × height (CRC fixed): a decompression bomb stand-in. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await raw().png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

describe('loadImage: limits and errors', () => {
  it('refuses images above pixelLimit from the header, before decoding', async () => {
    const path = writeBytes(file('bomb.png'), await pngClaiming(100_000, 100_000));
    const error = await loadImage(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect(error).toMatchObject({ file: path, pixels: 1e10 });
    expect((error as Error).message).toMatch(/bomb\.png is 100000×100000 = 10000000000 pixels, above pixelLimit 178956970 .*raise pixelLimit/);
    const small = writeBytes(file('small.png'), await raw().png().toBuffer());
    await expect(loadImage(small, { pixelLimit: 47 })).rejects.toThrow(ImageTooLargeError);
    await expect(loadImage(small, { pixelLimit: 48 })).resolves.toMatchObject({ width: W });
    const bmpBomb = encodeBmp(rgb, H, W, { bits: 24 });
    new DataView(bmpBomb.buffer).setInt32(18, 60_000, true);
    new DataView(bmpBomb.buffer).setInt32(22, 60_000, true);
    await expect(loadImage(writeBytes(file('bomb.bmp'), bmpBomb))).rejects.toThrow(ImageTooLargeError);
  });

  it('names the file for empty, missing, non-image and truncated files', async () => {
    const cases: Array<[string, Uint8Array | string | null, RegExp]> = [
      ['empty.png', new Uint8Array(0), /image .*empty\.png is empty \(0 bytes\)\. Re-copy or remove the file\./],
      ['missing.png', null, /cannot read image .*missing\.png \(ENOENT\)/],
      ['notes.png', 'these are notes, not pixels', /image .*notes\.png is not a supported image \(png, jpeg, bmp, tiff, webp, gif\)/],
      ['truncated.png', (await raw().png().toBuffer()).subarray(0, 60), /image .*truncated\.png is corrupt or truncated \(.+\)\. Re-export or remove the file\./],
      ['truncated.bmp', encodeBmp(rgb, H, W, { bits: 24 }).subarray(0, 80), /cannot decode BMP .*truncated\.bmp — pixel data truncated/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = bytes === null ? file(name) : writeBytes(file(name), bytes);
      const error = await loadImage(path).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(ImageDecodeError);
      expect((error as ImageDecodeError).file).toBe(path);
      expect((error as Error).message).toMatch(pattern);
    }
  });
});
