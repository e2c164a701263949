/** Training images the bench's int8 runtime is calibrated on, as `dfm test --precision int8` does by default. */
export const CALIBRATION_IMAGES = 32;

/**
 * `count` of `items` (all when fewer) chosen by a seeded shuffle (Fisher–Yates on a 32-bit LCG), in
 * their original order: the same images `Dfm` (@dfm/lightning-like) calibrates an int8 model on
 * with the same seed (its private `seededSample`; the model's seed defaults to 0), so the bench's
 * int8 rows use the activation ranges `dfm test --precision int8` fits with.
 */
export function calibrationSample<T>(items: readonly T[], count = CALIBRATION_IMAGES, seed = 0): T[] {
  if (items.length <= count) return [...items];
  const order = items.map((_, i) => i);
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order
    .slice(0, count)
    .sort((a, b) => a - b)
    .map((i) => items[i] as T);
}
