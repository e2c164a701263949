/**
 * A small seeded PRNG (mulberry32) and a Fisher–Yates shuffle, so every split is reproducible
 * from its seed on every platform.
 */

/** A function returning uniform numbers in [0, 1). */
export type Rng = () => number;

/** Hashes a string into a 32-bit integer (FNV-1a), used to derive independent seeds per purpose. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Creates a deterministic generator of uniform numbers in [0, 1) from an integer seed
 * (mulberry32). `purpose` derives an independent stream from the same seed.
 *
 * @example
 * const rng = createRng(42);
 * rng(); // 0.6011037519201636 on every platform
 */
export function createRng(seed: number, purpose = ''): Rng {
  let state = (Math.trunc(seed) ^ hashString(purpose)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a shuffled copy of `items` (Fisher–Yates); the input is not modified. */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
