import { type BinaryLabels, readBinary } from './binary-inputs';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** Options of {@link labelConnectedComponents}. */
export interface ConnectedComponentsOptions {
  height: number;
  width: number;
  /** 8 (default; diagonal neighbours join, like OpenCV's `connectedComponents` that anomalib uses) or 4. */
  connectivity?: 4 | 8;
}

/** Output of {@link labelConnectedComponents}. */
export interface ConnectedComponentsResult {
  /** `[height·width]` 0 = background, 1..count = region, numbered in raster order of first pixel. */
  labels: Int32Array;
  /** Number of regions. */
  count: number;
  /** `[count]` pixels per region: `sizes[k - 1]` for label `k`. */
  sizes: Uint32Array;
}

/**
 * Labels the connected regions of one binary mask (flood fill, linear time).
 *
 * @param mask `[height·width]` row-major, 1 = foreground (booleans accepted).
 * @example
 * labelConnectedComponents([1, 0, 0, 1], { height: 2, width: 2 }).count; // 1 (diagonal)
 */
export function labelConnectedComponents(
  mask: BinaryLabels,
  options: ConnectedComponentsOptions,
): ConnectedComponentsResult {
  const caller = 'labelConnectedComponents()';
  const { height, width, connectivity = 8 } = options;
  checkImageSize(caller, height, width);
  if (connectivity !== 4 && connectivity !== 8) {
    throw new InvalidArgumentError(`${caller}: connectivity must be 4 or 8 — got ${String(connectivity)}.`);
  }
  if (mask.length !== height * width) {
    throw new ShapeMismatchError(
      `${caller}: mask must hold height·width = ${height * width} values — got ${mask.length}. ` +
        `Pass one image's mask, flattened row-major.`,
    );
  }
  const labels = new Int32Array(height * width);
  const sizes: number[] = [];
  labelRegions(caller, mask, 0, height, width, connectivity, labels, new Int32Array(height * width), sizes);
  return { labels, count: sizes.length, sizes: Uint32Array.from(sizes) };
}

/** Throws unless height and width are positive integers. @internal */
export function checkImageSize(caller: string, height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new InvalidArgumentError(
      `${caller}: height and width must be positive integers — got ${height}×${width}. Pass the map size in pixels.`,
    );
  }
}

/**
 * Labels `mask[offset .. offset + height·width)` into `labels` (overwritten) and appends each
 * region's size to `sizes`. `stack` is scratch space of `height·width`. @internal
 */
export function labelRegions(
  caller: string,
  mask: BinaryLabels,
  offset: number,
  height: number,
  width: number,
  connectivity: 4 | 8,
  labels: Int32Array,
  stack: Int32Array,
  sizes: number[],
): void {
  const size = height * width;
  for (let i = 0; i < size; i++) labels[i] = readBinary(caller, 'masks', mask, offset + i) === 1 ? -1 : 0;
  const diagonal = connectivity === 8;
  let next = 0;
  for (let seed = 0; seed < size; seed++) {
    if (labels[seed] !== -1) continue;
    const label = ++next;
    let top = 0;
    let count = 0;
    labels[seed] = label;
    stack[top++] = seed;
    while (top > 0) {
      const p = stack[--top]!;
      count++;
      const y = (p / width) | 0;
      const x = p - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (dx !== 0 && dy !== 0 && !diagonal)) continue;
          const q = ny * width + nx;
          if (labels[q] === -1) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
    sizes.push(count);
  }
}
