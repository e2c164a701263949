import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, batches } from './batches';
import { BadImagesError, ImageDecodeError, MaskMismatchError } from './errors';
import { loadImage } from './load-image';
import { MVTecAD } from './mvtec-ad';
import type { Sample } from './sample';
import { tempDir, writeBytes, writeMask, writePng } from './test-images';
import { validateSamples } from './validate-samples';
import { InvalidArgumentError } from '@dfm/errors';

let dir: string;
let cleanup: () => void;
let good: Sample[];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  good = [];
  for (let i = 0; i < 10; i++) {
    const path = await writePng(join(dir, 'good', `${i}.png`), 12, 10, i * 10);
    good.push({ path, label: 0, defectType: 'good', maskPath: null });
  }
});
afterAll(() => cleanup());

async function collect(stream: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of stream) out.push(batch);
  return out;
}

describe('batches', () => {
  it('yields NHWC batches in order, the last one smaller, matching loadImage', async () => {
    const all = await collect(batches(good, { batchSize: 4, imageSize: [6, 5] }));
    expect(all.map((b) => b.batchSize)).toEqual([4, 4, 2]);
    expect(all.flatMap((b) => b.samples)).toEqual(good);
    const b = all[1]!;
    expect([b.height, b.width, b.images.length, b.masks]).toEqual([6, 5, 4 * 6 * 5 * 3, null]);
    const third = await loadImage(good[5]!.path, { size: [6, 5] });
    expect(b.images.slice(30 * 3, 60 * 3)).toEqual(third.data);
  });

  it('imageSize null keeps every image at its own size, and refuses one of another size as a bad file', async () => {
    const all = await collect(batches(good.slice(0, 5), { batchSize: 2, imageSize: null }));
    expect(all.map((b) => [b.batchSize, b.height, b.width])).toEqual([[2, 12, 10], [2, 12, 10], [1, 12, 10]]);
    const own = await loadImage(good[3]!.path);
    expect(all[1]!.images.slice(12 * 10 * 3)).toEqual(own.data);
    const odd = await writePng(join(dir, 'odd', 'odd.png'), 8, 8, 50);
    const mixed = [...good.slice(0, 3), { path: odd, label: 0 as const, defectType: 'good', maskPath: null }];
    const error = await collect(batches(mixed, { batchSize: 4, imageSize: null })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_IMAGE_SIZE_MISMATCH' });
    expect((error as Error).message).toMatch(/with imageSize null \(no resizing\) every image must be 10×12 \(w×h\), the size of the first one — got 8×8 for .*odd\.png/);
    const skipping = batches(mixed, { batchSize: 4, imageSize: null, onBadImage: 'skip' });
    expect((await collect(skipping)).map((b) => b.batchSize)).toEqual([3]);
    expect(skipping.skipped.map((s) => s.path)).toEqual([odd]);
  });

  it('every for-await is a new pass; prefetch 0 works', async () => {
    const stream = batches(good, { batchSize: 3, imageSize: 4, prefetch: 0 });
    expect((await collect(stream)).length).toBe(4);
    expect((await collect(stream)).length).toBe(4);
    expect(stream.stats.maxBatchesAlive).toBe(1);
  });

  it('keeps at most prefetch + 1 batches alive with a slow consumer', async () => {
    for (const prefetch of [1, 2, 3]) {
      const stream = batches(good, { batchSize: 2, imageSize: 4, prefetch });
      let consumed = 0;
      for await (const _ of stream) {
        consumed++;
        await new Promise((resolve) => setTimeout(resolve, 30)); // the producer runs ahead meanwhile
        expect(stream.stats.batchesStarted).toBeLessThanOrEqual(consumed + prefetch);
        expect(stream.stats.samplesStarted).toBeLessThanOrEqual((consumed + prefetch) * 2);
      }
      expect(consumed).toBe(5);
      expect(stream.stats.maxBatchesAlive).toBeLessThanOrEqual(prefetch + 1);
      expect(stream.stats.maxBatchesAlive).toBeGreaterThan(1); // it did decode ahead
    }
  });

  it('stops decoding when the consumer breaks out', async () => {
    const stream = batches(good, { batchSize: 1, imageSize: 4, prefetch: 2 });
    for await (const _ of stream) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.stats.batchesStarted).toBeLessThanOrEqual(3);
  });

  it('loads masks: zeros for normal images, nearest-resized binary for anomalous ones', async () => {
    const image = await writePng(join(dir, 'bad', 'a.png'), 8, 8);
    const mask = await writeMask(join(dir, 'bad', 'a_mask.png'), 8, 8, [0, 4, 4, 8]);
    const samples: Sample[] = [good[0]!, { path: image, label: 1, defectType: 'x', maskPath: mask }];
    const [batch] = await collect(batches(samples, { batchSize: 2, imageSize: 4, withMasks: true }));
    expect(Array.from(batch!.masks!)).toEqual([...new Array(16).fill(0), 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => batches([{ path: image, label: 1, defectType: 'x', maskPath: null }], { batchSize: 1, imageSize: 4, withMasks: true })).toThrow(
      /withMasks is true but 1 anomalous sample\(s\) have no mask/,
    );
  });

  it('synthetic samples get a generated anomaly and mask', async () => {
    const samples: Sample[] = [{ ...good[0]!, label: 1, defectType: 'synthetic', synthetic: { seed: 4 } }];
    const [batch] = await collect(batches(samples, { batchSize: 1, imageSize: 16, withMasks: true }));
    const plain = await loadImage(good[0]!.path, { size: 16 });
    expect(batch!.masks!.some((v) => v === 1)).toBe(true);
    expect(batch!.images).not.toEqual(plain.data);
  });

  it('normalize: images are (v − mean) / std of the plain ones, masks and synthetic anomalies too', async () => {
    const normalize = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
    const expectNormalized = (got: Float32Array, plain: Float32Array) => {
      expect(got.length).toBe(plain.length);
      let worst = 0;
      plain.forEach((v, i) => {
        worst = Math.max(worst, Math.abs((got[i] as number) - (v - normalize.mean[i % 3]!) / normalize.std[i % 3]!));
      });
      expect(worst).toBeLessThan(1e-6);
    };
    const [plain] = await collect(batches(good.slice(0, 3), { batchSize: 3, imageSize: [6, 5] }));
    const [normalized] = await collect(batches(good.slice(0, 3), { batchSize: 3, imageSize: [6, 5], normalize }));
    expect(plain!.normalization).toBeNull();
    expect(normalized!.normalization).toEqual(normalize);
    expectNormalized(normalized!.images, plain!.images);
    // the sharp kernels (no JS resize) and synthetic anomalies (drawn in [0, 1], normalised after)
    const [linear] = await collect(batches(good.slice(0, 1), { batchSize: 1, imageSize: 8, kernel: 'linear' }));
    const [linearN] = await collect(batches(good.slice(0, 1), { batchSize: 1, imageSize: 8, kernel: 'linear', normalize }));
    expectNormalized(linearN!.images, linear!.images);
    const synthetic: Sample[] = [{ ...good[0]!, label: 1, defectType: 'synthetic', synthetic: { seed: 4 } }];
    const [s1] = await collect(batches(synthetic, { batchSize: 1, imageSize: 16, withMasks: true }));
    const [s2] = await collect(batches(synthetic, { batchSize: 1, imageSize: 16, withMasks: true, normalize }));
    expectNormalized(s2!.images, s1!.images);
    expect(s2!.masks).toEqual(s1!.masks);
  });

  it('checks its options', () => {
    expect(() => batches(good, { batchSize: 2, imageSize: 4, normalize: { mean: [0, 0], std: [1, 1, 1] } as never })).toThrow(
      /normalize must be \{ mean: \[r, g, b\], std: \[r, g, b\] \}.*got \{"mean":\[0,0\]/,
    );
    expect(() => batches(good, { batchSize: 2, imageSize: 4, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow(/std > 0/);
    expect(() => batches(good, { batchSize: 0, imageSize: 4 })).toThrow(InvalidArgumentError);
    expect(() => batches(good, { batchSize: 2, imageSize: 4, prefetch: -1 })).toThrow(/prefetch must be an integer ≥ 0/);
    expect(() => batches(good, { batchSize: 2, imageSize: 4, onBadImage: 'ignore' as never })).toThrow(/onBadImage must be 'error' or 'skip'/);
    expect(() => batches(good, { batchSize: 2 } as never)).toThrow(/imageSize is required/);
  });
});

describe('a dataset folder with bad files', () => {
  let root: string;
  let bad: { corrupt: string; empty: string; text: string; mask: string };
  beforeAll(async () => {
    root = join(dir, 'mvtec');
    const cat = join(root, 'widget');
    for (let i = 0; i < 3; i++) await writePng(join(cat, 'train/good', `${i}.png`), 16, 16, i);
    await writePng(join(cat, 'test/good/0.png'), 16, 16);
    const png = await sharp(Buffer.alloc(16 * 16 * 3, 90), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    const corrupt = Buffer.from(png);
    corrupt.fill(0x5a, 40); // valid header, garbage pixel data
    bad = {
      corrupt: writeBytes(join(cat, 'test/crack/corrupt.png'), corrupt),
      empty: writeBytes(join(cat, 'test/crack/empty.png'), new Uint8Array(0)),
      text: writeBytes(join(cat, 'test/crack/text.png'), 'not an image at all'),
      mask: await writeMask(join(cat, 'ground_truth/crack/wrongsize_mask.png'), 10, 16),
    };
    await writePng(join(cat, 'test/crack/ok.png'), 16, 16);
    await writePng(join(cat, 'test/crack/wrongsize.png'), 16, 16);
    for (const stem of ['corrupt', 'empty', 'text', 'ok']) await writeMask(join(cat, `ground_truth/crack/${stem}_mask.png`), 16, 16);
  });

  it('validateSamples names each bad file in one error (check: full)', async () => {
    const data = new MVTecAD({ root, category: 'widget' });
    const error = await validateSamples(data.test, { check: 'full', withMasks: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadImagesError);
    const failures = (error as BadImagesError).failures;
    expect(failures.map((f) => f.path).sort()).toEqual([bad.corrupt, bad.empty, bad.text, bad.mask].sort());
    const byPath = new Map(failures.map((f) => [f.path, f.error]));
    expect(byPath.get(bad.corrupt)).toBeInstanceOf(ImageDecodeError);
    expect(byPath.get(bad.corrupt)!.message).toMatch(/corrupt\.png is corrupt or truncated/);
    expect(byPath.get(bad.empty)!.message).toMatch(/empty\.png is empty \(0 bytes\)/);
    expect(byPath.get(bad.text)!.message).toMatch(/text\.png is not a supported image/);
    expect(byPath.get(bad.mask)).toBeInstanceOf(MaskMismatchError);
    expect(byPath.get(bad.mask)!.message).toMatch(/mask .*wrongsize_mask\.png is 16×10 \(w×h\) but its image .*wrongsize\.png is 16×16\. .*re-export the mask/);
    for (const path of Object.values(bad)) expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/4 file\(s\) cannot be used.*onBadImage: 'skip'/s);
    // Header-only checks (fast) catch these too (damage deeper in the pixel data needs check: 'full');
    // skip mode returns the report instead of throwing.
    const report = await validateSamples(data.test, { withMasks: true, onBadImage: 'skip' });
    expect(report.bad.map((f) => f.path)).toEqual(expect.arrayContaining([bad.empty, bad.text, bad.mask]));
    expect(report.valid).toHaveLength(data.test.length - report.bad.length);
  });

  it("batches with onBadImage 'error' throws an error naming every bad file of the batch", async () => {
    const data = new MVTecAD({ root, category: 'widget' });
    const error = await collect(batches(data.test, { batchSize: 16, imageSize: 8, withMasks: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadImagesError);
    expect((error as BadImagesError).files.sort()).toEqual([bad.corrupt, bad.empty, bad.text, bad.mask].sort());
    const single = await collect(batches([data.test.find((s) => s.path === bad.empty)!], { batchSize: 1, imageSize: 8 })).catch((e: unknown) => e);
    expect(single).toBeInstanceOf(ImageDecodeError);
    expect((single as ImageDecodeError).file).toBe(bad.empty);
  });

  it("batches with onBadImage 'skip' leaves them out, refills batches and lists them", async () => {
    const data = new MVTecAD({ root, category: 'widget' });
    const reported: string[] = [];
    const stream = batches(data.test, { batchSize: 2, imageSize: 8, withMasks: true, onBadImage: 'skip', onSkip: (path) => reported.push(path) });
    const all = await collect(stream);
    expect(all.map((b) => b.batchSize)).toEqual([2]);
    expect(all.flatMap((b) => b.samples.map((s) => s.path)).sort()).toEqual([join(root, 'widget/test/crack/ok.png'), join(root, 'widget/test/good/0.png')]);
    expect(stream.skipped.map((s) => s.path).sort()).toEqual([bad.corrupt, bad.empty, bad.text, bad.mask].sort());
    expect(reported.sort()).toEqual(stream.skipped.map((s) => s.path).sort());
  });

  it('an empty train folder fails at construction, before any decoding', () => {
    const emptyRoot = join(dir, 'empty-train');
    writeBytes(join(emptyRoot, 'widget/train/good/Thumbs.db'), 'x');
    writeBytes(join(emptyRoot, 'widget/test/good/0.png'), 'x');
    expect(() => new MVTecAD({ root: emptyRoot, category: 'widget' })).toThrow(/train\/good holds no images/);
  });
});
