import { type Normalization, normalizationAffine, resizeBilinearAntialiased } from '@dfm/data';
import sharp from 'sharp';

/** Content types the server accepts (what sharp decodes from memory). */
export const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/tiff', 'image/gif'] as const;

/** A decoded upload: RGB float32 HWC. */
export interface DecodedUpload {
  pixels: Float32Array;
  height: number;
  width: number;
}

/**
 * Decodes uploaded bytes in memory (never via a file) to RGB float32 in [0, 1], HWC, resized to
 * `size` (`[height, width]`; null keeps the image's own size) with the same antialiased bilinear
 * filter as `loadImage`: EXIF orientation
 * applied, alpha dropped, grey replicated, embedded ICC profiles ignored. 8-bit precision (16-bit
 * images are read at 8 bits here; `loadImage` keeps 16). With `normalize` the values are
 * normalised in the resize's last write, exactly as `batches({ normalize })` does.
 */
export async function decodeUpload(
  bytes: Buffer,
  size: readonly [number, number] | null,
  pixelLimit = 40_000_000,
  normalize?: Normalization,
): Promise<DecodedUpload> {
  const { data, info } = await sharp(bytes, { limitInputPixels: pixelLimit, ignoreIcc: true, autoOrient: true, animated: false })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  let rgb: Uint8Array = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels === 1) {
    rgb = new Uint8Array(info.width * info.height * 3);
    for (let i = 0; i < info.width * info.height; i += 1) rgb.fill(data[i] as number, i * 3, i * 3 + 3);
  }
  const affine = normalize === undefined ? undefined : normalizationAffine(normalize, 'decodeUpload()');
  const [height, width] = size ?? [info.height, info.width];
  return { pixels: resizeBilinearAntialiased(rgb, info.height, info.width, 3, height, width, 1 / 255, affine), height, width };
}
