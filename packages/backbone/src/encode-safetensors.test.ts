import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from './encode-safetensors';
import { loadSafetensors } from './load-safetensors';

describe('encodeSafetensors', () => {
  it('round-trips F32 and F64 tensors and metadata through loadSafetensors', () => {
    const a = new Float32Array([1.5, -2, 3.25, 0, Number.MIN_VALUE, 7]);
    const b = new Float64Array([Math.PI, -1e-300, 1e300]);
    const bytes = encodeSafetensors(
      { a: { shape: [2, 3], data: a }, b: { shape: [3], data: b }, empty: { shape: [0, 4], data: new Float32Array(0) } },
      { format: 'dfm', version: '1' },
    );
    const view = new DataView(bytes.buffer);
    expect(Number(view.getBigUint64(0, true)) % 8).toBe(0);
    const { tensors, metadata } = loadSafetensors(bytes);
    expect(metadata).toEqual({ format: 'dfm', version: '1' });
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [2, 3], data: a });
    expect(tensors.get('b')).toEqual({ dtype: 'F64', shape: [3], data: b });
    expect(tensors.get('b')?.data).toBeInstanceOf(Float64Array);
    expect(tensors.get('empty')?.shape).toEqual([0, 4]);
  });

  it('writes no __metadata__ when none is given', () => {
    expect(loadSafetensors(encodeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } })).metadata).toBeUndefined();
  });

  it('refuses a shape that does not fit the data, and non-string metadata', () => {
    expect(() => encodeSafetensors({ x: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /^encodeSafetensors\(\): tensor "x" shape \[2,2\] needs 4 values — got 3\. Fix the shape or the data\.$/,
    );
    expect(() =>
      encodeSafetensors({ x: { shape: [1], data: new Float32Array(1) } }, { n: 3 as unknown as string }),
    ).toThrow(/metadata values must be strings — metadata\.n is number/);
    expect(() => encodeSafetensors({ x: { shape: [1], data: [1] as unknown as Float32Array } })).toThrow(
      /must hold a Float32Array or Float64Array/,
    );
  });
});
