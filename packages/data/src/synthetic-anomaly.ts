import { createRng } from './random';

/** An image with a synthetic defect and its mask. */
export interface SyntheticAnomaly {
  /** [height, width, 3] in [0, 1]. */
  image: Float32Array;
  /** [height, width], 1 inside the defect. */
  mask: Uint8Array;
}

/**
 * Pastes a deterministic synthetic defect into an HWC RGB image (a simplified DRAEM-style
 * anomaly): a blob made of 1–3 random Gaussian bumps is filled with the image's own content,
 * rotated by 180° and colour-inverted, blended with a random opacity in [0.5, 0.9].
 * The same seed always gives the same defect; the input is not modified.
 *
 * @example
 * const { image, mask } = createSyntheticAnomaly(normal.data, 256, 256, 7);
 */
export function createSyntheticAnomaly(source: Float32Array, height: number, width: number, seed: number): SyntheticAnomaly {
  const rng = createRng(seed, 'synthetic-anomaly');
  const bumps = 1 + Math.floor(rng() * 3);
  const centres: Array<{ y: number; x: number; sy: number; sx: number }> = [];
  for (let b = 0; b < bumps; b++) {
    centres.push({
      y: (0.2 + 0.6 * rng()) * height,
      x: (0.2 + 0.6 * rng()) * width,
      sy: (0.04 + 0.08 * rng()) * height,
      sx: (0.04 + 0.08 * rng()) * width,
    });
  }
  const opacity = 0.5 + 0.4 * rng();
  const shift = [rng() * 0.3, rng() * 0.3, rng() * 0.3];
  const image = source.slice();
  const mask = new Uint8Array(height * width);
  const paint = (y: number, x: number): void => {
    const i = y * width + x;
    mask[i] = 1;
    const j = (height - 1 - y) * width + (width - 1 - x);
    for (let ch = 0; ch < 3; ch++) {
      const texture = Math.min(1, Math.max(0, 1 - source[j * 3 + ch]! + shift[ch]!));
      image[i * 3 + ch] = (1 - opacity) * source[i * 3 + ch]! + opacity * texture;
    }
  };
  let painted = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let field = 0;
      for (const c of centres) {
        const dy = (y + 0.5 - c.y) / c.sy;
        const dx = (x + 0.5 - c.x) / c.sx;
        field += Math.exp(-0.5 * (dy * dy + dx * dx));
      }
      if (field >= 0.5) {
        paint(y, x);
        painted++;
      }
    }
  }
  // Tiny images: the blob may fall between pixel centres; keep at least one defective pixel.
  if (painted === 0) paint(Math.floor(centres[0]!.y), Math.floor(centres[0]!.x));
  return { image, mask };
}
