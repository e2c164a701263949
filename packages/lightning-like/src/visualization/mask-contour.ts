import { InvalidArgumentError } from '@dfm/errors';

/**
 * The boundary of a binary mask: mask pixels with a 4-neighbour outside the mask or on the image
 * border.
 *
 * @param mask `[height·width]` row-major, non-zero = inside.
 * @returns `[height·width]` 1 on the boundary, 0 elsewhere.
 * @example
 * maskContour(new Uint8Array(9).fill(1), { height: 3, width: 3 }); // all 1 but the centre
 */
export function maskContour(mask: ArrayLike<number>, options: { height: number; width: number }): Uint8Array {
  const { height, width } = options;
  if (mask.length !== height * width) {
    throw new InvalidArgumentError(
      `maskContour(): mask must hold height·width = ${height * width} values — got ${mask.length}. ` +
        `Pass the mask at the size given.`,
    );
  }
  const contour = new Uint8Array(height * width);
  const inside = (y: number, x: number) => y >= 0 && x >= 0 && y < height && x < width && mask[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(y, x)) continue;
      if (!inside(y - 1, x) || !inside(y + 1, x) || !inside(y, x - 1) || !inside(y, x + 1)) contour[y * width + x] = 1;
    }
  }
  return contour;
}
