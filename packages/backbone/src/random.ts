/**
 * A tiny counter-based pseudo-random generator, implemented identically in
 * `scripts/make_fixtures.py` (numpy) so that tests and the PyTorch fixture script produce the same
 * input batches and the same random weights without committing either.
 *
 * Definition (all arithmetic on uint32, wrapping):
 * - `hash32(x)`: `x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16`.
 * - `fnv1a32(name)`: FNV-1a over the UTF-8 bytes of `name` (offset 0x811c9dc5, prime 0x01000193).
 * - stream key: `key = hash32(seed ^ fnv1a32(name))`; one stream per (seed, name), so the order in
 *   which tensors are generated never matters.
 * - the i-th word (i = 0, 1, ...): `hash32(key + (i + 1) * 0x9e3779b9)`.
 * - the i-th uniform: `(word_i + 0.5) / 2^32` in float64, strictly inside (0, 1).
 * - the j-th normal (Box–Muller, cosine branch only): `sqrt(-2 ln u_2j) * cos(2π u_2j+1)`.
 *
 * Values are computed in float64 and rounded to float32 on storage; JavaScript and numpy agree to
 * that rounding (their `log`/`cos` may differ in the last float64 bit, which almost never changes
 * the float32 value).
 */

const TWO_POW_32 = 4294967296;

/** The 32-bit finaliser used by every stream (uint32 in, uint32 out). */
export function hash32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a of the UTF-8 bytes of `text` (uint32). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The key of the stream named `name` under `seed`. */
export function streamKey(seed: number, name: string): number {
  return hash32((seed >>> 0) ^ fnv1a32(name));
}

/** A deterministic stream of uint32 words, uniforms and normals. */
export class RandomStream {
  private readonly key: number;
  private index = 0;

  /**
   * @param seed any integer (taken modulo 2^32)
   * @param name the stream's name; each name gives an independent stream
   */
  constructor(seed: number, name: string) {
    this.key = streamKey(seed, name);
  }

  /** The next uint32 word. */
  nextUint32(): number {
    this.index += 1;
    return hash32((this.key + Math.imul(this.index, 0x9e3779b9)) >>> 0);
  }

  /** The next uniform in (0, 1). */
  nextUniform(): number {
    return (this.nextUint32() + 0.5) / TWO_POW_32;
  }

  /** The next standard normal (consumes two words). */
  nextNormal(): number {
    const u1 = this.nextUniform();
    const u2 = this.nextUniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/**
 * `n` uniforms of the stream (seed, name), mapped to `low + (high - low) * u`, as float32.
 *
 * @example
 * randomUniform(4, 0, 'input'); // Float32Array(4) in (0, 1), the same in scripts/make_fixtures.py
 */
export function randomUniform(n: number, seed: number, name: string, low = 0, high = 1): Float32Array {
  const stream = new RandomStream(seed, name);
  const out = new Float32Array(n);
  const span = high - low;
  for (let i = 0; i < n; i++) out[i] = low + span * stream.nextUniform();
  return out;
}

/**
 * `n` normals of the stream (seed, name), mapped to `mean + std * z`, as float32.
 *
 * @example
 * randomNormal(3, 0, 'conv1.weight', 0, 0.05);
 */
export function randomNormal(n: number, seed: number, name: string, mean = 0, std = 1): Float32Array {
  const stream = new RandomStream(seed, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * stream.nextNormal();
  return out;
}
