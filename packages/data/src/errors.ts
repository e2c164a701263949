import { CorruptFileError, DfmError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';
/**
 * Errors of `@dfm/data`. Every message names the file at fault and says how to fix it, following
 * the house template `what was called: what was expected — what was got. How to fix.`
 */

/** An image (or mask) file that cannot be decoded: empty, truncated, not an image, unsupported. */
export class ImageDecodeError extends CorruptFileError {
  override name = 'ImageDecodeError';
  /** The file that failed (always set). */
  declare readonly file: string;

  constructor(message: string, options: { file: string; cause?: unknown; code?: 'E_IMAGE_DECODE' | 'E_IMAGE_TOO_LARGE' }) {
    super(message, { ...options, code: options.code ?? 'E_IMAGE_DECODE' });
  }
}

/**
 * An image whose header declares more pixels than the configured `pixelLimit` (a possible
 * decompression bomb). Raised from the header alone, before any pixel is decoded.
 */
export class ImageTooLargeError extends ImageDecodeError {
  override name = 'ImageTooLargeError';
  /** width × height declared by the header. */
  readonly pixels: number;
  /** The limit that was exceeded. */
  readonly pixelLimit: number;

  constructor(message: string, options: { file: string; pixels: number; pixelLimit: number }) {
    super(message, { file: options.file, code: 'E_IMAGE_TOO_LARGE' });
    this.pixels = options.pixels;
    this.pixelLimit = options.pixelLimit;
  }
}

/** A mask whose size differs from the size of the image it belongs to. */
export class MaskMismatchError extends ShapeMismatchError {
  override name = 'MaskMismatchError';
  /** The mask file. */
  readonly file: string;
  /** The image the mask belongs to. */
  readonly imageFile: string;

  constructor(message: string, options: { file: string; imageFile: string }) {
    super(message, { code: 'E_MASK_MISMATCH' });
    this.file = options.file;
    this.imageFile = options.imageFile;
  }
}

/** A dataset with masks in which some anomalous images have no mask. */
export class MissingMaskError extends InvalidArgumentError {
  override name = 'MissingMaskError';
  /** The images without a mask. */
  readonly files: readonly string[];

  constructor(message: string, options: { files: readonly string[] }) {
    super(message, { code: 'E_MISSING_MASK' });
    this.files = options.files;
  }
}

/** One file that could not be used, and why. */
export interface BadFile {
  /** The image path (for a bad mask: the mask path). */
  path: string;
  error: Error;
}

/** Several files could not be read; `failures` names each one with its own error. */
export class BadImagesError extends DfmError {
  override name = 'BadImagesError';
  readonly failures: readonly BadFile[];

  constructor(message: string, options: { failures: readonly BadFile[] }) {
    super(message, { cause: options.failures[0]?.error, code: 'E_BAD_IMAGES' });
    this.failures = options.failures;
  }

  /** The paths of every bad file. */
  get files(): string[] {
    return this.failures.map((failure) => failure.path);
  }
}

/** Builds the message of a {@link BadImagesError}: one line per file. */
export function describeBadFiles(context: string, failures: readonly BadFile[]): string {
  const lines = failures.map((failure) => `  - ${failure.path}: ${failure.error.message}`);
  return (
    `${context}: ${failures.length} file(s) cannot be used —\n${lines.join('\n')}\n` +
    "Fix or remove these files, or pass onBadImage: 'skip' to leave them out (they are then listed in `skipped`)."
  );
}
