import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { poolAndFlatten } from './feature-pooling';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Plain-loop average pooling (kernel = stride, floor), the independent reference. */
function referencePool(data: Float32Array, [b, h, w, c]: [number, number, number, number], k: number): number[] {
  const oh = Math.floor(h / k);
  const ow = Math.floor(w / k);
  const out: number[] = [];
  for (let n = 0; n < b; n += 1)
    for (let y = 0; y < oh; y += 1)
      for (let x = 0; x < ow; x += 1)
        for (let ch = 0; ch < c; ch += 1) {
          let sum = 0;
          for (let dy = 0; dy < k; dy += 1)
            for (let dx = 0; dx < k; dx += 1) sum += data[((n * h + y * k + dy) * w + x * k + dx) * c + ch] as number;
          out.push(sum / (k * k));
        }
  return out;
}

describe('poolAndFlatten', () => {
  it('average-pools with kernel = stride and floors a ragged edge, flattening h, w, c', () => {
    const shape: [number, number, number, number] = [2, 17, 18, 3];
    const data = Float32Array.from({ length: 2 * 17 * 18 * 3 }, (_, i) => Math.sin(i * 0.37) * 5);
    const input = tf.tensor4d(data, shape);
    const { features, featureShape } = poolAndFlatten(input, 4);
    expect(featureShape).toEqual([4, 4, 3]);
    expect(features.shape).toEqual([2, 48]);
    const expected = referencePool(data, shape, 4);
    const got = features.dataSync();
    for (let i = 0; i < expected.length; i += 1) expect(got[i]).toBeCloseTo(expected[i] as number, 5);
    tf.dispose([input, features]);
  });

  it('kernel 1 only flattens', () => {
    const input = tf.randomNormal([1, 3, 2, 4]) as tf.Tensor4D;
    const { features, featureShape } = poolAndFlatten(input, 1);
    expect(featureShape).toEqual([3, 2, 4]);
    expect(Array.from(features.dataSync())).toEqual(Array.from(input.dataSync()));
    tf.dispose([input, features]);
  });

  it('rejects a bad kernel and a map smaller than the kernel, and leaks nothing', () => {
    const input = tf.zeros([1, 3, 3, 2]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    expect(() => poolAndFlatten(input, 0)).toThrow(/kernelSize must be an integer ≥ 1 — got 0/);
    expect(() => poolAndFlatten(input, 4)).toThrow(/\[1,3,3,2\] is smaller than the pooling kernel 4/);
    for (let i = 0; i < 20; i += 1) tf.dispose(Object.values(poolAndFlatten(input, 2)).filter((v) => v instanceof tf.Tensor));
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });
});
