import { describe, expect, it } from 'vitest';
import { nhwcToNchw } from './layout';

describe('nhwcToNchw', () => {
  it('moves channels in front of the pixels, per image', () => {
    // 2 images of 1×2 pixels, 3 channels: value = 100·b + 10·pixel + channel
    const nhwc = Float32Array.from([0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112]);
    expect(Array.from(nhwcToNchw(nhwc, [2, 1, 2, 3]))).toEqual([0, 10, 1, 11, 2, 12, 100, 110, 101, 111, 102, 112]);
  });
});
