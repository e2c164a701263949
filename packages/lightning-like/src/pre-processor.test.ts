import { setBackend } from '@dfm/backbone';
import type { Batch } from '@dfm/data';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PreProcessor } from './pre-processor';
import { InvalidArgumentError } from '@dfm/errors';

const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

function batchOf(values: number[], normalization: Batch['normalization']): Batch {
  return { images: Float32Array.from(values), normalization, masks: null, samples: [], batchSize: 1, height: 1, width: values.length / 3 };
}

describe('PreProcessor', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  it('asks the loader to resize and normalise', () => {
    expect(new PreProcessor({ imageSize: [64, 48] }).batchOptions()).toEqual({
      imageSize: [64, 48],
      kernel: 'bilinear-antialiased',
      normalize: { mean: MEAN, std: STD },
    });
    // The identity pre-processor asks for neither.
    expect(PreProcessor.identity().batchOptions()).toEqual({ imageSize: null, kernel: 'bilinear-antialiased' });
  });

  it('validates its options, naming the bad value', () => {
    expect(() => new PreProcessor({ imageSize: [16, 16] })).toThrow(/imageSize must be \[height, width\] with integers ≥ 32, or null for no resizing — got \[16,16\]/);
    expect(() => new PreProcessor({ resizeKernel: 'box' as never })).toThrow(/resizeKernel must be one of bilinear-antialiased, linear, cubic, mitchell, lanczos2, lanczos3 — got "box"/);
    expect(() => new PreProcessor({ mean: null })).toThrow(/mean and std must both be given or both be null/);
    expect(() => new PreProcessor({ std: [1, 0, 1] })).toThrow(/std > 0 — got mean \[0\.485,0\.456,0\.406\], std \[1,0,1\]/);
  });

  it('round-trips through the model file record', () => {
    const pre = new PreProcessor({ imageSize: [40, 50], resizeKernel: 'cubic', mean: [0.1, 0.2, 0.3], std: [1, 2, 3] });
    expect(PreProcessor.fromPreProcessing(pre.toPreProcessing()).toJSON()).toEqual(pre.toJSON());
    expect(PreProcessor.fromPreProcessing(PreProcessor.identity().toPreProcessing()).toJSON()).toEqual(PreProcessor.identity().toJSON());
  });

  it('normalises plain batches and passes through batches the loader normalised the same way', async () => {
    const pre = new PreProcessor();
    const plain = [0, 0.5, 1, 0.25, 0.75, 0.1];
    const expected = plain.map((v, i) => (v - MEAN[i % 3]!) / STD[i % 3]!);
    const fromPlain = pre.transform(batchOf(plain, null));
    const fromLoader = pre.transform(batchOf(expected, { mean: [...MEAN], std: [...STD] }));
    const [a, b] = [await fromPlain.data(), await fromLoader.data()];
    a.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 6);
    });
    expect(Array.from(b)).toEqual(Array.from(Float32Array.from(expected)));
    expect(fromLoader.shape).toEqual([1, 1, 2, 3]);
    tf.dispose([fromPlain, fromLoader]);
  });

  it('refuses a batch normalised with other statistics, saying both', () => {
    const pre = new PreProcessor();
    expect(() => pre.transform(batchOf([0, 0, 0], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }))).toThrow(InvalidArgumentError);
    expect(() => pre.transform(batchOf([0, 0, 0], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }))).toThrow(
      /normalised with mean \[0\.5,0\.5,0\.5\].*this pre-processor uses mean \[0\.485,0\.456,0\.406\].*batchOptions\(\)/,
    );
  });
});
