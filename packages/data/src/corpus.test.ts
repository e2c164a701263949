/**
 * Reliability: the bad-input corpus (`test/fixtures/bad/`, made by `scripts/make-bad-corpus.ts`).
 * Every case gives a typed error whose message and `.file` name the file, or the documented
 * behaviour. Symlink loops are made at run time in a temp folder.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CorpusCase, makeBadCorpus } from '../scripts/make-bad-corpus';
import { batches } from './batches';
import { BadImagesError, ImageDecodeError, ImageTooLargeError, MaskMismatchError } from './errors';
import { Folder } from './folder';
import { loadImage, readImageHeader } from './load-image';
import { loadMask } from './load-mask';
import type { Sample } from './sample';
import { tempDir, writePng } from './test-images';
import { validateSamples } from './validate-samples';
import { InvalidArgumentError } from '@dfm/errors';

const corpus = fileURLToPath(new URL('../test/fixtures/bad/', import.meta.url));
const cases = JSON.parse(readFileSync(join(corpus, 'cases.json'), 'utf8')) as CorpusCase[];
const at = (file: string) => join(corpus, file);
const ERRORS = { ImageDecodeError, ImageTooLargeError, MaskMismatchError } as const;
const isMask = (file: string) => /_mask\.png$/.test(file);
const sample = (file: string, maskPath: string | null = null): Sample => ({ path: at(file), label: maskPath ? 1 : 0, defectType: maskPath ? 'defect' : 'good', maskPath });

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('dfm-corpus-'));
});
afterAll(() => cleanup());

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}

describe('bad-input corpus', () => {
  it('is reproduced byte for byte by scripts/make-bad-corpus.ts', async () => {
    const fresh = join(dir, 'regenerated');
    await makeBadCorpus(fresh);
    expect(filesUnder(fresh)).toEqual(filesUnder(corpus));
    for (const file of filesUnder(corpus)) {
      expect(readFileSync(join(fresh, file)).equals(readFileSync(at(file))), `${file} differs: rerun node --import tsx scripts/make-bad-corpus.ts`).toBe(true);
    }
  });

  const failing = cases.filter((c) => c.expect.startsWith('error:') && c.expect !== 'error:MaskMismatchError');
  it.each(failing.map((c) => [c.file, c] as const))('%s: a typed error whose message and .file name the file', async (_, c) => {
    const path = at(c.file);
    const load = isMask(c.file) ? loadMask(path) : loadImage(path, { size: 64 });
    const error = await load.catch((e: unknown) => e);
    const expected = ERRORS[c.expect.slice('error:'.length) as keyof typeof ERRORS];
    expect(error, c.fault).toBeInstanceOf(expected);
    expect((error as ImageDecodeError).file).toBe(path);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).not.toMatch(/\n\s+at /); // a message, not a stack trace
    // The header-only check agrees (for bombs: refused without decoding a pixel).
    if (c.expect === 'error:ImageTooLargeError') {
      await expect(readImageHeader(path)).rejects.toThrow(ImageTooLargeError);
      expect(error).toMatchObject({ pixels: 400_000_000, pixelLimit: 178_956_970 });
      expect((error as Error).message).toMatch(/is 20000×20000 = 400000000 pixels, above pixelLimit 178956970 \(refused before decoding, a possible decompression bomb\)\. Shrink the image or raise pixelLimit\./);
    }
  });

  it('decompression bombs are refused before any allocation of their declared size, with a configurable limit', async () => {
    const before = process.memoryUsage();
    for (let i = 0; i < 20; i++) {
      await expect(loadImage(at('bomb-20000x20000.png'))).rejects.toThrow(ImageTooLargeError);
      await expect(loadImage(at('bomb-20000x20000.jpg'))).rejects.toThrow(ImageTooLargeError);
    }
    const grownMiB = (process.memoryUsage().rss - before.rss) / 2 ** 20;
    expect(grownMiB).toBeLessThan(200); // one decoded 20000² RGB frame would be 1,144 MiB
    await expect(loadImage(at('sixteen-bit.png'), { pixelLimit: 100 })).rejects.toThrow(/is 16×12 = 192 pixels, above pixelLimit 100/);
    await expect(loadImage(at('sixteen-bit.png'), { pixelLimit: 192 })).resolves.toMatchObject({ width: 16 });
    await expect(loadImage(at('one-pixel.png'), { pixelLimit: 0 })).rejects.toThrow(InvalidArgumentError);
  });

  it('zero-byte, truncated and non-image files say what is wrong', async () => {
    await expect(loadImage(at('zero-byte.png'))).rejects.toThrow(/zero-byte\.png is empty \(0 bytes\)\. Re-copy or remove the file\./);
    await expect(loadImage(at('truncated.png'))).rejects.toThrow(/truncated\.png is corrupt or truncated \(.+\)\. Re-export or remove the file\./);
    await expect(loadImage(at('truncated.jpg'))).rejects.toThrow(/truncated\.jpg is corrupt or truncated/);
    await expect(loadImage(at('text-named.png'))).rejects.toThrow(/text-named\.png is not a supported image \(png, jpeg, bmp, tiff, webp, gif\)/);
    await expect(loadMask(at('truncated_mask.png'))).rejects.toThrow(/mask .*truncated_mask\.png is corrupt or truncated/);
  });

  it('wrong extension: decoded by content (a PNG named .jpg)', async () => {
    const image = await loadImage(at('png-named.jpg'));
    expect(await readImageHeader(at('png-named.jpg'))).toEqual({ format: 'png', width: 16, height: 12 });
    expect(image.data[0]).toBeCloseTo(0, 6); // pattern value at (0, 0, R) = 0
    expect(image.data[1]).toBeCloseTo(71 / 255, 6);
  });

  it('1×1: decodes and resizes to any size as one colour', async () => {
    const image = await loadImage(at('one-pixel.png'), { size: 64 });
    expect([image.height, image.width, image.originalHeight, image.originalWidth]).toEqual([64, 64, 1, 1]);
    for (let p = 0; p < 64 * 64; p++) {
      expect(Array.from(image.data.subarray(p * 3, p * 3 + 3)).map((v) => Math.round(v * 255))).toEqual([200, 100, 50]);
    }
  });

  it('16-bit: scaled to [0, 1] at 16-bit precision (v / 65535)', async () => {
    const image = await loadImage(at('sixteen-bit.png'));
    const want = Float32Array.from({ length: 16 * 12 * 3 }, (_, i) => ((i * 2731 + 17) % 65536) / 65535);
    for (let i = 0; i < want.length; i++) expect(Math.abs(image.data[i]! - want[i]!)).toBeLessThan(1e-7);
  });

  it('palette, CMYK and grey+alpha become RGB', async () => {
    const palette = await loadImage(at('palette.png'));
    expect(new Set(Array.from(palette.data, (v) => Math.round(v * 255)))).toEqual(new Set([30, 220]));
    const cmyk = await loadImage(at('cmyk.jpg'));
    expect(cmyk.channels).toBe(3);
    expect(cmyk.data[0]!).toBeGreaterThan(cmyk.data[2]! + 0.3); // the red half stays red
    expect(cmyk.data.at(-1)!).toBeGreaterThan(cmyk.data.at(-3)! + 0.3); // the blue half stays blue
    const greyAlpha = await loadImage(at('grey-alpha.png'));
    for (let p = 0; p < 16 * 12; p++) {
      const v = ((p * 7) % 256) / 255;
      expect(Array.from(greyAlpha.data.subarray(p * 3, p * 3 + 3))).toEqual([v, v, v].map(Math.fround)); // alpha dropped, not composited
    }
  });

  it('animated GIF and WebP: the first frame', async () => {
    for (const file of ['animated.gif', 'animated.webp']) {
      const image = await loadImage(at(file));
      expect([image.height, image.width], file).toEqual([12, 16]);
      for (const v of image.data) expect(Math.abs(v - 50 / 255)).toBeLessThan(2 / 255);
    }
  });

  it('a mask that does not match its image: MaskMismatchError naming both files (validateSamples and batches)', async () => {
    const mask = at('mask-mismatch/image_mask.png');
    const pair = sample('mask-mismatch/image.png', mask);
    for (const check of ['header', 'full'] as const) {
      const error = await validateSamples([pair], { withMasks: true, check }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadImagesError);
      const failure = (error as BadImagesError).failures[0]!;
      expect(failure.path).toBe(mask);
      expect(failure.error).toBeInstanceOf(MaskMismatchError);
      expect(failure.error).toMatchObject({ file: mask, imageFile: pair.path });
      expect(failure.error.message).toMatch(/mask .*image_mask\.png is 10×8 \(w×h\) but its image .*image\.png is 16×12\. A mask must have its image's size/);
    }
    const stream = batches([pair], { batchSize: 1, imageSize: 32, withMasks: true });
    const error = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaskMismatchError);
    expect((error as MaskMismatchError).file).toBe(mask);
  });

  it('a folder of the whole corpus: validateSamples names every bad file; batches skips exactly those with onBadImage: skip', async () => {
    const images = cases.filter((c) => !c.file.startsWith('mask-mismatch/') && !isMask(c.file));
    const samples = images.map((c) => sample(c.file));
    const bad = images.filter((c) => c.expect.startsWith('error:')).map((c) => at(c.file));
    const good = images.filter((c) => c.expect.startsWith('decodes')).map((c) => at(c.file));

    const error = await validateSamples(samples, { check: 'full' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadImagesError);
    expect([...(error as BadImagesError).files].sort()).toEqual([...bad].sort());
    for (const path of bad) expect((error as Error).message).toContain(path);
    const report = await validateSamples(samples, { check: 'full', onBadImage: 'skip' });
    expect(report.valid.map((s) => s.path)).toEqual(good);

    const skippedNow: string[] = [];
    const stream = batches(samples, { batchSize: 4, imageSize: 32, onBadImage: 'skip', onSkip: (path) => skippedNow.push(path) });
    const seen: string[] = [];
    for await (const batch of stream) {
      seen.push(...batch.samples.map((s) => s.path));
      expect(batch.images.every(Number.isFinite)).toBe(true);
    }
    expect(seen).toEqual(good);
    expect(stream.skipped.map((s) => s.path).sort()).toEqual([...bad].sort());
    expect(skippedNow.sort()).toEqual([...bad].sort());

    const stopping = batches(samples, { batchSize: 4, imageSize: 32 });
    const stopped = await (async () => {
      for await (const _ of stopping);
    })().catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(Error);
    expect([...((stopped as BadImagesError).files ?? [(stopped as ImageDecodeError).file])].every((f) => bad.includes(f as string))).toBe(true);
  });
});

describe.skipIf(process.platform === 'win32')('symlink loops in dataset folders', () => {
  it('finish the scan (each real folder once), list the loops in ignoredFiles, and a looping file link gives ImageDecodeError naming it', async () => {
    const root = join(dir, 'loops');
    const good = join(root, 'good');
    mkdirSync(join(good, 'a'), { recursive: true });
    mkdirSync(join(good, 'b'), { recursive: true });
    await writePng(join(good, '0.png'), 8, 8, 0);
    await writePng(join(good, 'a', '1.png'), 8, 8, 1);
    await writePng(join(good, 'b', '2.png'), 8, 8, 2);
    symlinkSync('..', join(good, 'a', 'up')); // a → good → a → … (a loop through the parent)
    symlinkSync(join(good, 'a'), join(good, 'b', 'to-a')); // a second path to the same folder
    symlinkSync(join(good, 'b'), join(good, 'a', 'to-b')); // a ↔ b
    symlinkSync('self.png', join(good, 'self.png')); // a link to itself: ELOOP
    const bad = join(root, 'bad');
    mkdirSync(bad);
    await writePng(join(bad, 'x.png'), 8, 8, 9);
    symlinkSync(bad, join(bad, 'again'));

    const data = new Folder({ root, normalDir: 'good', abnormalDir: 'bad', normalSplitRatio: 0, seed: 0 });
    expect(data.train.map((s) => relative(good, s.path)).sort()).toEqual(['0.png', 'a/1.png', 'a/to-b/2.png', 'self.png']);
    expect(data.test.map((s) => relative(root, s.path))).toEqual(['bad/x.png']);
    expect(data.ignoredFiles.map((p) => relative(root, p)).sort()).toEqual(['bad/again', 'b', 'good/a/to-b/to-a', 'good/a/up'].map((p) => (p === 'b' ? 'good/b' : p)).sort());

    const error = await loadImage(join(good, 'self.png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as ImageDecodeError).file).toBe(join(good, 'self.png'));
    expect((error as Error).message).toMatch(/cannot read image .*self\.png \(ELOOP\)/);
    const report = await validateSamples(data.train, { onBadImage: 'skip' });
    expect(report.bad.map((b) => b.path)).toEqual([join(good, 'self.png')]);
  });
});
