/**
 * Reliability: degenerate training sets through the whole DFMModel (random-init resnet18 at 32 px)
 * either fit with finite scores or fail with a message that explains why. Scores are never NaN.
 */
import { setBackend } from '@dfm/backbone';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DFMModel } from './dfm-model';
import { InvalidArgumentError } from '@dfm/errors';

const SIZE = 32;
const options = { backbone: 'resnet18', layer: 'layer2', preTrained: false, poolingKernelSize: 2, seed: 11 } as const;

/** Smooth pseudo-images [count, SIZE, SIZE, 3], one pattern per index. */
function images(indices: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const y = tf.reshape(tf.linspace(-1, 1, SIZE), [1, SIZE, 1, 1]);
    const x = tf.reshape(tf.linspace(-1, 1, SIZE), [1, 1, SIZE, 1]);
    const k = tf.reshape(tf.tensor1d(indices as number[], 'float32'), [indices.length, 1, 1, 1]);
    return tf.concat([0, 1, 2].map((c) => tf.cos(tf.add(tf.mul(tf.add(x, tf.mul(y, c + 2)), tf.add(2, tf.mul(k, 0.2))), tf.mul(k, 0.9 + c)))), 3) as tf.Tensor4D;
  });
}

async function scoresOf(model: DFMModel, batch: tf.Tensor4D): Promise<number[]> {
  const { predScore, anomalyMap } = await model.predict(batch);
  const values = Array.from(predScore.dataSync());
  if (anomalyMap !== undefined) {
    expect(anomalyMap.dataSync().some(Number.isNaN)).toBe(false);
    anomalyMap.dispose();
  }
  predScore.dispose();
  return values;
}

beforeAll(async () => {
  await setBackend('wasm');
});

describe('DFMModel numerical guards', () => {
  it('constant images (every training image identical) fail with an explanation', async () => {
    const model = new DFMModel(options);
    const same = images([3, 3, 3, 3, 3, 3]);
    const error = await model.fit([same]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/features must vary across samples — got \[6,\d+\] with zero total variance \(all samples identical\)\. Fit on varied samples\./);
    const flat = tf.zerosLike(same) as tf.Tensor4D; // a blank (all-zero) frame, the typical "constant image"
    await expect(model.fit([flat])).rejects.toThrow(/zero total variance/);
    tf.dispose([same, flat]);
    model.dispose();
  });

  for (const scoreType of ['fre', 'nll'] as const) {
    it(`${scoreType}: duplicated training images (a rank-1 bank) fit with k = 1; scores finite`, async () => {
      const model = new DFMModel({ ...options, scoreType });
      const bank = images([1, 2, 1, 2, 1, 2, 1, 2]);
      const fit = await model.fit([bank]);
      expect(fit.nComponents).toBe(1);
      const test = images([1, 2, 7]);
      const scores = await scoresOf(model, test);
      expect(scores.every(Number.isFinite)).toBe(true);
      // FRE sees everything off the bank's line; NLL scores only within the kept component.
      if (scoreType === 'fre') expect(scores[2]!).toBeGreaterThan(Math.max(scores[0]!, scores[1]!));
      tf.dispose([bank, test]);
      model.dispose();
    });

    it(`${scoreType}: N = 2 (the minimum) fits with finite scores; N = 1 names the minimum`, async () => {
      const model = new DFMModel({ ...options, scoreType });
      const two = images([4, 5]);
      await model.fit([two]);
      const test = images([4, 5, 6]);
      expect((await scoresOf(model, test)).every(Number.isFinite)).toBe(true);
      const one = images([4]);
      await expect(model.fit([one])).rejects.toThrow(/needs at least 2 normal samples — got 1/);
      tf.dispose([two, test, one]);
      model.dispose();
    });
  }

  it('pixel values of huge dynamic range: ×1e-20 and ×1e15 fit with finite scores and maps; ×3e38 overflows float32 in the backbone and is refused naming the batch', async () => {
    const base = images([0, 1, 2, 3, 4, 5]);
    const test = images([6, 7]);
    for (const factor of [1e-20, 1e15]) {
      const model = new DFMModel(options);
      const bank = tf.mul(base, factor) as tf.Tensor4D;
      const fit = await model.fit([bank]);
      expect(fit.nComponents).toBeGreaterThan(0);
      const scaled = tf.mul(test, factor) as tf.Tensor4D;
      expect((await scoresOf(model, scaled)).every(Number.isFinite), `×${factor}`).toBe(true);
      tf.dispose([bank, scaled]);
      model.dispose();
    }
    const model = new DFMModel(options);
    const overflow = tf.mul(base, 3e38) as tf.Tensor4D;
    const error = await model.fit([base, overflow]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/DFMModel\.fit\(\): batch 2 (gives non-finite features|holds NaN or Infinity)/);
    tf.dispose([base, test, overflow]);
    model.dispose();
  });

  // An image that overflows float32 in the backbone gives non-finite features, and features ≳ 1e19
  // give a squared residual beyond float32 (an Infinity FRE, NaN after upsampling the map):
  // DFMModel.score() refuses both with InvalidArgumentError rather than returning NaN.
  it('scoring images beyond float32 range gives no NaN (a finite score or a clear refusal)', async () => {
    const base = images([0, 1, 2, 3, 4, 5]);
    const outcomes: unknown[] = [];
    for (const [fitFactor, testFactor] of [
      [1, 3e38],
      [1e20, 1e20],
    ] as const) {
      const model = new DFMModel(options);
      const bank = tf.mul(base, fitFactor) as tf.Tensor4D;
      await model.fit([bank]);
      const test = tf.mul(images([8]), testFactor) as tf.Tensor4D;
      outcomes.push(await scoresOf(model, test).catch((e: unknown) => e));
      tf.dispose([bank, test]);
      model.dispose();
    }
    base.dispose();
    for (const outcome of outcomes) {
      if (Array.isArray(outcome)) expect(outcome.every(Number.isFinite)).toBe(true);
      else expect((outcome as Error).message).toMatch(/NaN or Infinity/);
    }
  });
});
