import { describe, expect, it } from 'vitest';
import type { Sample } from './sample';
import { applySplits, NO_THRESHOLDS_NOTE, resolveSplitOptions } from './splits';
import { createSyntheticAnomaly } from './synthetic-anomaly';

const normal = (i: number): Sample => ({ path: `/n/${i}.png`, label: 0, defectType: 'good', maskPath: null });
const train = Array.from({ length: 20 }, (_, i) => normal(i));
const test: Sample[] = [
  ...Array.from({ length: 4 }, (_, i) => ({ ...normal(100 + i) })),
  ...Array.from({ length: 6 }, (_, i): Sample => ({ path: `/a/${i}.png`, label: 1, defectType: 'crack', maskPath: `/m/${i}.png` })),
];

describe('applySplits', () => {
  it('same_as_test: val is the test set, thresholds come from test', () => {
    const s = applySplits(train, () => test, resolveSplitOptions({}, 't'), 't');
    expect(s.val).toEqual(s.test);
    expect(s.val).not.toBe(s.test);
    expect(s.splitInfo).toEqual({
      testSplitMode: 'from_dir',
      testSplitRatio: 0.2,
      valSplitMode: 'same_as_test',
      valSplitRatio: 0.5,
      seed: 0,
      thresholdSplit: 'test',
      counts: { train: 20, test: 10, val: 10 },
      note: expect.stringMatching(/optimistic/),
    });
  });

  it('from_test: stratified, disjoint, seeded', () => {
    const s = applySplits(train, () => test, resolveSplitOptions({ valSplitMode: 'from_test', valSplitRatio: 0.5, seed: 9 }, 't'), 't');
    expect(s.val.filter((x) => x.label === 0)).toHaveLength(2);
    expect(s.val.filter((x) => x.label === 1)).toHaveLength(3);
    expect(s.test).toHaveLength(5);
    expect(s.test.filter((x) => s.val.includes(x))).toEqual([]);
    expect(s.splitInfo.thresholdSplit).toBe('val');
    expect(s.splitInfo.note).toMatch(/held-out validation split \(50% of each test defect type, seed 9\)/);
    const other = applySplits(train, () => test, resolveSplitOptions({ valSplitMode: 'from_test', seed: 10 }, 't'), 't');
    expect(other.val.map((x) => x.path)).not.toEqual(s.val.map((x) => x.path));
  });

  it('synthetic val and none', () => {
    const s = applySplits(train, () => test, resolveSplitOptions({ valSplitMode: 'synthetic', valSplitRatio: 0.2 }, 't'), 't');
    expect(s.train).toHaveLength(16);
    expect(s.val).toHaveLength(4);
    expect(s.val.filter((x) => x.synthetic !== undefined)).toHaveLength(2);
    expect(s.splitInfo.thresholdSplit).toBe('val');
    const none = applySplits(train, () => test, resolveSplitOptions({ valSplitMode: 'none' }, 't'), 't');
    expect(none.val).toEqual([]);
    expect(none.splitInfo).toMatchObject({ thresholdSplit: 'none', note: expect.stringMatching(/not fitted/) });
    expect(none.splitInfo.note).toBe(NO_THRESHOLDS_NOTE);
    expect(NO_THRESHOLDS_NOTE).toMatch(/no labels or normalised scores\. Thresholds need anomalous validation images.*valSplitMode 'synthetic'/);
  });

  it('refuses to hold out every training image', () => {
    expect(() =>
      applySplits([normal(0)], () => test, resolveSplitOptions({ testSplitMode: 'synthetic', testSplitRatio: 1, valSplitMode: 'none' }, 'X'), 'X'),
    ).toThrow(/X: no training images left/);
  });
});

describe('createSyntheticAnomaly', () => {
  it('is deterministic, changes pixels only inside a non-empty mask, leaves the input alone', () => {
    const source = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 97) / 97);
    const copy = source.slice();
    const a = createSyntheticAnomaly(source, 32, 32, 11);
    const b = createSyntheticAnomaly(source, 32, 32, 11);
    expect(a).toEqual(b);
    expect(source).toEqual(copy);
    const inside = a.mask.reduce((s, v) => s + v, 0);
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(32 * 32);
    for (let p = 0; p < 32 * 32; p++) {
      if (a.mask[p] === 0) expect(a.image.slice(p * 3, p * 3 + 3)).toEqual(source.slice(p * 3, p * 3 + 3));
    }
    expect(createSyntheticAnomaly(source, 32, 32, 12).mask).not.toEqual(a.mask);
    expect(createSyntheticAnomaly(new Float32Array(2 * 2 * 3), 2, 2, 1).mask.some((v) => v === 1)).toBe(true);
  });
});
