import { describe, expect, it } from 'vitest';
import type { DfmTestRun } from './dfm-test-child';
import { endToEndRatio, endToEndReport, wallParts } from './end-to-end';

// Shaped like a dfm test child on the bottle (made-up seconds): main() took 9.0 s of the 9.5 s wall.
const run: DfmTestRun = {
  category: 'mvtec-bottle',
  precision: 'fp32',
  calibration: null,
  wallSeconds: 9.5,
  totalSeconds: 9.0,
  stages: { startup_s: 0.1, train_s: 4.5, validate_s: 1.5, fit_other_s: 0.8, test_s: 2.0, test_files_s: 0.1 },
  imageAUROC: 1,
  pixelAUROC: null,
  testImages: 83,
};

describe('wallParts', () => {
  it('lists the stages and the process time outside main(), largest first', () => {
    const parts = wallParts(run);
    expect(parts[0]).toEqual({ name: 'train_s', seconds: 4.5 });
    expect(parts.find((p) => p.name === 'process_s')?.seconds).toBeCloseTo(0.5, 10);
    expect(parts.reduce((sum, p) => sum + p.seconds, 0)).toBeCloseTo(9.5, 10);
  });
});

describe('endToEndRatio', () => {
  it('meets the target without a note', () => {
    expect(endToEndRatio(run, 20)).toEqual({ precision: 'fp32', ratio: 9.5 / 20, target: 0.5, met: true, note: null });
  });

  it('names the part that holds a missed target back, and whether taking it off would be enough', () => {
    // 0.5 × 12 = 6 s budget; without train_s: 5.0 s ≤ 6 s.
    expect(endToEndRatio(run, 12).note).toMatch(/^0\.5× PyTorch needs ≤ 6\.00 s; measured 9\.50 s = train_s 4\.50 \+ test_s 2\.00 .*Held back by train_s \(decode \+ backbone of the training images\): taking it off alone would reach the target \(5\.00 s\)\.$/);
    // int8 target 0.35 × 12 = 4.2 s: 5.0 s even without train_s.
    expect(endToEndRatio({ ...run, precision: 'int8', calibration: 'minmax' }, 12).note).toMatch(/even with it at 0 s the rest takes 5\.00 s = 0\.42× PyTorch/);
  });

  it('keeps the dfm runs and leaves the ratios out when PyTorch was skipped', () => {
    const report = endToEndReport([run], { skipped: 'no torch' }, 'dfm test …');
    expect(report.ratios).toEqual([]);
    expect(report.torchSkipped).toBe('no torch');
    expect(report.runs).toHaveLength(1);
  });
});
