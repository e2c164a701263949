import { describe, expect, it } from 'vitest';
import { pipelineFloor } from './floor';
import { formatFloor } from './run-bench';

// The parts of the 2026-11-23 02:16 run (docs/benchmarks.md): onnxruntime best 9.7 ms/img, decoding
// 2.10 CPU-s for 292 images on 2 cores, fit 0.17 s + score 0.07 s, PyTorch 7.80 s, limit 7.55 ms/img.
const run = {
  runtime: 'onnxruntime' as const,
  images: 292,
  backboneBestMs: 9.7,
  decodeCpuSeconds: 2.1,
  cores: 2,
  fitSeconds: 0.17,
  scoreSeconds: 0.07,
  torchSeconds: 7.8,
  limitMs: 7.55,
  target: 0.5,
};

describe('pipelineFloor', () => {
  it('adds the backbone at its best, decoding spread over the cores, and fit + score', () => {
    const floor = pipelineFloor(run);
    // 9.7 × 292 / 1000 = 2.8324; 2.1 / 2 = 1.05; 0.17 + 0.07 = 0.24.
    expect(floor.backboneSeconds).toBeCloseTo(2.8324, 10);
    expect(floor.decodeSeconds).toBeCloseTo(1.05, 10);
    expect(floor.fitScoreSeconds).toBeCloseTo(0.24, 10);
    expect(floor.totalSeconds).toBeCloseTo(4.1224, 10);
    expect(floor.ratio).toBeCloseTo(4.1224 / 7.8, 10);
    // 0.5 × 7.8 = 3.9 s leaves 3.9 − 1.05 − 0.24 = 2.61 s for 292 images = 8.938… ms/img.
    expect(floor.neededMsPerImage).toBeCloseTo(2610 / 292, 8);
    expect(floor.neededLimitMultiple).toBeCloseTo(2610 / 292 / 7.55, 8);
    // 7.55 × 292 / 1000 = 2.2046 s at the limit.
    expect(floor.atLimitSeconds).toBeCloseTo(2.2046 + 1.29, 10);
  });

  it('without PyTorch or the FMA peak, leaves the ratios out', () => {
    const floor = pipelineFloor({ ...run, torchSeconds: null, limitMs: null });
    expect(floor.ratio).toBeNull();
    expect(floor.neededMsPerImage).toBeNull();
    expect(floor.neededLimitMultiple).toBeNull();
    expect(floor.atLimitSeconds).toBeNull();
    expect(floor.totalSeconds).toBeCloseTo(4.1224, 10);
  });

  it('says so when even a free backbone cannot reach the target', () => {
    const text = formatFloor(pipelineFloor({ ...run, decodeCpuSeconds: 8 }));
    expect(text).toMatch(/out of reach even with a free backbone/);
  });

  it('prints the parts and what the target needs', () => {
    const text = formatFloor(pipelineFloor(run));
    expect(text).toContain('= 2.83 s');
    expect(text).toContain('= 1.05 s');
    expect(text).toContain('**4.12 s** = **0.53× PyTorch**');
    expect(text).toContain('≤ 8.9 ms/img = 1.18× the physical limit');
    expect(text).toContain('physical limit: 3.49 s');
  });

  it('refuses measurements that are not finite non-negative numbers', () => {
    expect(() => pipelineFloor({ ...run, backboneBestMs: Number.NaN })).toThrow(/backboneBestMs must be a finite number ≥ 0 — got NaN/);
    expect(() => pipelineFloor({ ...run, cores: 0 })).toThrow(/cores must be ≥ 1/);
  });
});
