import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, normalizeImageNet } from './normalize-imagenet';
import { setBackend } from './set-backend';

describe('normalizeImageNet', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  it('subtracts the mean and divides by the std per channel, leaving the input alone', async () => {
    const images = tf.tensor4d([0, 0.5, 1, 0.485, 0.456, 0.406], [1, 1, 2, 3]);
    const before = tf.memory().numTensors;
    const out = normalizeImageNet(images);
    expect(tf.memory().numTensors).toBe(before + 1);
    const values = Array.from(await out.data());
    const expected = [0, 0.5, 1, 0.485, 0.456, 0.406].map((v, i) => (v - IMAGENET_MEAN[i % 3]!) / IMAGENET_STD[i % 3]!);
    values.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 6);
    });
    expect(Array.from(await images.data())).toEqual(Array.from(new Float32Array([0, 0.5, 1, 0.485, 0.456, 0.406])));
    tf.dispose([images, out]);
  });

  it('refuses images that are not [B, H, W, 3]', () => {
    const grey = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    expect(() => normalizeImageNet(grey)).toThrow(
      /^normalizeImageNet\(\): images must be \[B, H, W, 3\] \(NHWC RGB\) — got \[1,4,4,1\]\. Convert grey or RGBA images to RGB first\.$/,
    );
    grey.dispose();
  });
});
