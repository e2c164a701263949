import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MissingMaskError } from './errors';
import { MVTecAD } from './mvtec-ad';
import { tempDir, writeBytes } from './test-images';
import { InvalidArgumentError } from '@dfm/errors';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Builds root/cat with the given relative files (contents are irrelevant to scanning). */
function tree(files: string[]): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  for (const file of files) writeBytes(join(dir, 'cat', file), 'x');
  return dir;
}

const base = [
  'train/good/000.png',
  'train/good/001.png',
  'train/good/002.png',
  'train/good/.DS_Store',
  'train/good/readme.txt',
  'test/good/000.png',
  'test/good/001.png',
  'test/crack/000.png',
  'test/crack/001.png',
  'test/hole/000.jpg',
];
const masks = ['ground_truth/crack/000_mask.png', 'ground_truth/crack/001_mask.png', 'ground_truth/hole/000_mask.png'];

describe('MVTecAD layout', () => {
  it('scans train/good and test/<defect|good>, matches masks by stem', () => {
    const root = tree([...base, ...masks]);
    const data = new MVTecAD({ root, category: 'cat' });
    expect(data.name).toBe('mvtec');
    expect(data.category).toBe('cat');
    expect(data.train.map((s) => s.path)).toEqual([0, 1, 2].map((i) => join(root, 'cat/train/good', `00${i}.png`)));
    expect(data.train.every((s) => s.label === 0 && s.defectType === 'good' && s.maskPath === null)).toBe(true);
    expect(data.test.map((s) => [s.defectType, s.label, s.maskPath?.slice(root.length)])).toEqual([
      ['crack', 1, '/cat/ground_truth/crack/000_mask.png'],
      ['crack', 1, '/cat/ground_truth/crack/001_mask.png'],
      ['good', 0, undefined],
      ['good', 0, undefined],
      ['hole', 1, '/cat/ground_truth/hole/000_mask.png'],
    ]);
    expect(data.hasMasks).toBe(true);
    expect(data.pixelMetricsReason).toBeNull();
    expect(data.ignoredFiles).toEqual([join(root, 'cat/train/good/readme.txt')]);
    expect(data.val).toEqual(data.test);
    expect(data.splitInfo).toMatchObject({ testSplitMode: 'from_dir', valSplitMode: 'same_as_test', thresholdSplit: 'test', seed: 0 });
    expect(data.splitInfo.note).toMatch(/fitted on the test set itself .* optimistic/);
  });

  it('without any ground_truth folder is image-level only and says why', () => {
    const data = new MVTecAD({ root: tree(base), category: 'cat' });
    expect(data.hasMasks).toBe(false);
    expect(data.test.every((s) => s.maskPath === null)).toBe(true);
    expect(data.pixelMetricsReason).toMatch(/no ground_truth folder in .*cat: pixel metrics \(pixel AUROC, pixel F1, AUPRO\) are not computed; image-level metrics only\./);
  });

  it('with a ground_truth folder, a missing mask is an error naming the image', () => {
    const root = tree([...base, ...masks.slice(0, 2)]);
    const error = (() => {
      try {
        new MVTecAD({ root, category: 'cat' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MissingMaskError);
    expect((error as MissingMaskError).files).toEqual([join(root, 'cat/test/hole/000.jpg')]);
    expect((error as Error).message).toMatch(/has no mask for 1 test image\(s\): .*test\/hole\/000\.jpg \(expected ground_truth\/<defect>\/<stem>_mask\.png\)/);
  });

  it('fails early, naming the folder, for a missing root/category/train and an empty train/good', () => {
    const root = tree(base);
    expect(() => new MVTecAD({ root: join(root, 'nope'), category: 'cat' })).toThrow(/root folder .*nope does not exist/);
    expect(() => new MVTecAD({ root, category: 'dog' })).toThrow(/no category folder .*dog\. Categories in .*: cat\./);
    const empty = tree(['train/good/notes.txt', 'test/good/0.png']);
    expect(() => new MVTecAD({ root: empty, category: 'cat' })).toThrow(InvalidArgumentError);
    expect(() => new MVTecAD({ root: empty, category: 'cat' })).toThrow(/MVTecAD: .*cat\/train\/good holds no images \(.png .jpg/);
    const noTrain = tree(['test/good/0.png']);
    expect(() => new MVTecAD({ root: noTrain, category: 'cat' })).toThrow(/cat\/train\/good does not exist/);
    const noTest = tree(['train/good/0.png']);
    expect(() => new MVTecAD({ root: noTest, category: 'cat' })).toThrow(/cat\/test does not exist\. .*testSplitMode: 'synthetic' or 'none'/);
    expect(new MVTecAD({ root: noTest, category: 'cat', testSplitMode: 'none', valSplitMode: 'none' }).test).toEqual([]);
  });

  it('validates split options', () => {
    const root = tree(base);
    expect(() => new MVTecAD({ root, category: 'cat', valSplitMode: 'bogus' as never })).toThrow(/valSplitMode must be one of same_as_test, from_test, synthetic, none/);
    expect(() => new MVTecAD({ root, category: 'cat', testSplitMode: 'none' })).toThrow(/valSplitMode 'same_as_test' needs a test set/);
    expect(() => new MVTecAD({ root, category: 'cat', valSplitRatio: 2 })).toThrow(/valSplitRatio must be a number in \[0, 1\]/);
  });

  it('from_test moves a seeded, stratified part of test to val', async () => {
    const root = tree([...base, ...masks]);
    const data = await MVTecAD.create({ root, category: 'cat', valSplitMode: 'from_test', valSplitRatio: 0.5, seed: 3 });
    expect(data.splitInfo).toMatchObject({ thresholdSplit: 'val', valSplitRatio: 0.5, counts: { train: 3, test: 2, val: 3 } });
    // Per defect type: crack 2 → 1, good 2 → 1, hole 1 → round(0.5) = 1.
    expect(data.val.map((s) => s.defectType).sort()).toEqual(['crack', 'good', 'hole']);
    const all = new Set([...data.test, ...data.val].map((s) => s.path));
    expect(all.size).toBe(5);
    const again = new MVTecAD({ root, category: 'cat', valSplitMode: 'from_test', valSplitRatio: 0.5, seed: 3 });
    expect(again.val).toEqual(data.val);
  });
});
