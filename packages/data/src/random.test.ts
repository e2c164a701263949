import { describe, expect, it } from 'vitest';
import { createRng, shuffle } from './random';

describe('createRng / shuffle', () => {
  it('is deterministic per seed and purpose, uniform in [0, 1)', () => {
    const a = createRng(42);
    const b = createRng(42);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, createRng(43))).not.toEqual(first);
    expect(Array.from({ length: 5 }, createRng(42, 'val'))).not.toEqual(first);
    const many = Array.from({ length: 10_000 }, createRng(7));
    expect(Math.min(...many)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...many)).toBeLessThan(1);
    expect(many.reduce((s, x) => s + x, 0) / many.length).toBeCloseTo(0.5, 1);
  });

  it('shuffle returns a permutation and leaves the input alone', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = shuffle(items, createRng(1));
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(items[0]).toBe(0);
    expect(shuffle(items, createRng(1))).toEqual(shuffled);
  });
});
