import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { residualToMap, upsampleMap } from './anomaly-map';

interface UpsampleCase {
  in_shape: [number, number, number];
  out_shape: [number, number, number];
  input: number[];
  expected: number[];
  expected_sum: number;
  stride: number;
}
const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/upsample.json', import.meta.url), 'utf8')) as {
  cases: UpsampleCase[];
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('upsampleMap', () => {
  it.each(fixture.cases.map((c) => [c.in_shape.join('x'), c.out_shape.join('x'), c] as const))(
    'matches torch interpolate(bilinear, align_corners=False) %s → %s',
    (_from, _to, c) => {
      const [b, h, w] = c.in_shape;
      const [, H, W] = c.out_shape;
      const map = tf.tensor4d(c.input, [b, h, w, 1]);
      const up = upsampleMap(map, H, W);
      expect(up.shape).toEqual([b, H, W]);
      const got = up.dataSync();
      let maxError = 0;
      for (let i = 0; i < c.expected.length; i += 1) {
        maxError = Math.max(maxError, Math.abs((got[i * c.stride] as number) - (c.expected[i] as number)));
      }
      expect(maxError).toBeLessThan(1e-5);
      const sum = Array.from(got as Float32Array).reduce((a, v) => a + v, 0);
      expect(Math.abs(sum - c.expected_sum) / Math.abs(c.expected_sum)).toBeLessThan(1e-5);
      tf.dispose([map, up]);
    },
  );
});

describe('residualToMap', () => {
  it('sums squared residuals over channels at each position (h, w, c flattening)', () => {
    const residual = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 12]);
    const map = residualToMap(residual, [2, 3, 2]);
    expect(map.shape).toEqual([1, 2, 3, 1]);
    expect(Array.from(map.dataSync())).toEqual([1 + 4, 9 + 16, 25 + 36, 49 + 64, 81 + 100, 121 + 144]);
    tf.dispose([residual, map]);
  });
});
