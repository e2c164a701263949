import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MissingMaskError } from './errors';
import { Folder } from './folder';
import { tempDir, writeBytes } from './test-images';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
function tree(files: string[]): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  for (const file of files) writeBytes(join(dir, file), 'x');
  return dir;
}
const normals = Array.from({ length: 10 }, (_, i) => `good/${String(i).padStart(2, '0')}.png`);

describe('Folder', () => {
  it('splits normalSplitRatio of normalDir into the test set (seeded), abnormal images labelled 1', () => {
    const root = tree([...normals, 'bad/a.png', 'bad/b.png']);
    const data = new Folder({ root, normalDir: 'good', abnormalDir: 'bad', seed: 5 });
    expect(data.name).toBe('folder');
    expect(data.category).toBe('good');
    expect(data.normalSplitRatio).toBe(0.2);
    expect(data.train).toHaveLength(8);
    expect(data.test.filter((s) => s.label === 0)).toHaveLength(2);
    expect(data.test.filter((s) => s.label === 1).map((s) => [s.defectType, s.path])).toEqual([
      ['bad', join(root, 'bad/a.png')],
      ['bad', join(root, 'bad/b.png')],
    ]);
    const trainPaths = new Set(data.train.map((s) => s.path));
    expect(data.test.some((s) => trainPaths.has(s.path))).toBe(false);
    expect(new Folder({ root, normalDir: 'good', abnormalDir: 'bad', seed: 5 }).test).toEqual(data.test);
    expect(new Folder({ root, normalDir: 'good', abnormalDir: 'bad', seed: 6 }).train).not.toEqual(data.train);
    expect(data.hasMasks).toBe(false);
    expect(data.pixelMetricsReason).toMatch(/no maskDir given/);
  });

  it('uses normalTestDir when given; sub-folders of abnormalDir are defect types; masks by stem or <stem>_mask', () => {
    const root = tree([...normals, 'normal_test/t.png', 'bad/crack/a.png', 'bad/hole/b.png', 'masks/crack/a.png', 'masks/b_mask.png']);
    const data = new Folder({ root, normalDir: 'good', abnormalDir: 'bad', normalTestDir: 'normal_test', maskDir: 'masks', name: 'widgets' });
    expect(data.category).toBe('widgets');
    expect(data.train).toHaveLength(10);
    expect(data.test.map((s) => [s.defectType, s.label, s.maskPath?.slice(root.length)])).toEqual([
      ['good', 0, undefined],
      ['crack', 1, '/masks/crack/a.png'],
      ['hole', 1, '/masks/b_mask.png'],
    ]);
    expect(data.hasMasks).toBe(true);
  });

  it('a missing mask names the image; missing or empty folders fail early', () => {
    const root = tree([...normals, 'bad/a.png', 'bad/b.png', 'masks/a.png']);
    expect(() => new Folder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks' })).toThrow(MissingMaskError);
    expect(() => new Folder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks' })).toThrow(/no mask for 1 anomalous image\(s\): .*bad\/b\.png/);
    expect(() => new Folder({ root, normalDir: 'nothing', abnormalDir: 'bad' })).toThrow(/the normalDir folder .*nothing does not exist/);
    const empty = tree(['good/notes.txt', 'bad/a.png']);
    expect(() => new Folder({ root: empty, normalDir: 'good', abnormalDir: 'bad' })).toThrow(/normalDir .*good holds no images/);
    expect(() => new Folder({ root, normalDir: 'good', testSplitMode: 'from_dir' })).toThrow(/testSplitMode 'from_dir' needs abnormalDir/);
  });

  it('without abnormalDir: no test split and no validation split by default, with a note saying how to get thresholds', () => {
    const root = tree(normals);
    const data = new Folder({ root, normalDir: 'good' });
    expect(data.train).toHaveLength(10);
    expect(data.test).toEqual([]);
    expect(data.val).toEqual([]);
    expect(data.normalSplitRatio).toBe(0);
    expect(data.splitInfo).toMatchObject({ testSplitMode: 'none', valSplitMode: 'none', thresholdSplit: 'none' });
    expect(data.splitInfo.note).toMatch(/thresholds are not fitted.*need anomalous validation images.*valSplitMode 'synthetic'/);
    // the caller's choice wins
    const synthetic = new Folder({ root, normalDir: 'good', valSplitMode: 'synthetic', valSplitRatio: 0.2 });
    expect(synthetic.splitInfo).toMatchObject({ testSplitMode: 'none', valSplitMode: 'synthetic', thresholdSplit: 'val' });
    expect(new Folder({ root, normalDir: 'good', testSplitMode: 'synthetic' }).splitInfo).toMatchObject({ testSplitMode: 'synthetic', valSplitMode: 'same_as_test' });
    expect(() => new Folder({ root, normalDir: 'good', valSplitMode: 'from_test' })).toThrow(
      /^Folder: valSplitMode 'from_test' needs a test set — got no abnormalDir, so there is none \(testSplitMode defaults to 'none'\)\. Pass abnormalDir/,
    );
  });

  it('synthetic test split: held-out normals, half turned into synthetic anomalies', () => {
    const root = tree(normals);
    const data = new Folder({ root, normalDir: 'good', testSplitMode: 'synthetic', testSplitRatio: 0.4, valSplitMode: 'same_as_test', seed: 2 });
    expect(data.train).toHaveLength(6);
    expect(data.test).toHaveLength(4);
    const synthetic = data.test.filter((s) => s.label === 1);
    expect(synthetic).toHaveLength(2);
    expect(synthetic.every((s) => s.defectType === 'synthetic' && s.synthetic !== undefined)).toBe(true);
    expect(data.hasMasks).toBe(true);
    expect(data.splitInfo).toMatchObject({ testSplitMode: 'synthetic', thresholdSplit: 'test' });
  });
});
