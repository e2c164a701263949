import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../test/fixture-comparison';
import { loadSafetensors } from './load-safetensors';
import { fnv1a32, hash32, RandomStream, randomNormal, randomUniform } from './random';

describe('random (the generator shared with scripts/make_fixtures.py)', () => {
  const { tensors } = loadSafetensors(`${FIXTURES_DIR}prng.safetensors`);
  const fixture = (name: string) => Array.from(tensors.get(name)?.data ?? []);

  it('gives exactly the words, uniforms and normals of the numpy implementation', () => {
    const words = new RandomStream(1, 'check');
    expect(Array.from({ length: 8 }, () => words.nextUint32())).toEqual(fixture('words'));
    const uniforms = new RandomStream(1, 'check');
    expect(Array.from({ length: 8 }, () => uniforms.nextUniform())).toEqual(fixture('uniforms'));
    const normals = new RandomStream(2, 'check');
    const ours = Array.from({ length: 8 }, () => normals.nextNormal());
    fixture('normals').forEach((value, i) => {
      expect(ours[i]).toBeCloseTo(value, 14);
    });
    const big = new RandomStream(0xffffffff, 'layer1.0.conv1.weight');
    expect(Array.from({ length: 4 }, () => big.nextUint32())).toEqual(fixture('words_seed_max'));
  });

  it('hash32 and fnv1a32 give the published reference values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(hash32(0)).toBe(0);
    expect(hash32(1)).not.toBe(hash32(2));
  });

  it('is deterministic per (seed, name) and independent across names', () => {
    expect(randomNormal(5, 3, 'x')).toEqual(randomNormal(5, 3, 'x'));
    expect(randomNormal(5, 3, 'x')).not.toEqual(randomNormal(5, 3, 'y'));
    expect(randomNormal(5, 3, 'x')).not.toEqual(randomNormal(5, 4, 'x'));
  });

  it('has the moments it claims', () => {
    const z = randomNormal(100_000, 0, 'moments', 2, 3);
    const mean = z.reduce((a, v) => a + v, 0) / z.length;
    const variance = z.reduce((a, v) => a + (v - mean) ** 2, 0) / z.length;
    expect(mean).toBeCloseTo(2, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(3, 1);
    const u = randomUniform(100_000, 0, 'moments', -1, 1);
    expect(Math.min(...u)).toBeGreaterThan(-1);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
