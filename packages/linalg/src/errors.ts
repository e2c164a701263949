/**
 * The error family shared by every `@dfm/*` package. Messages follow one template:
 * `what was called: what was expected — what was got. How to fix.`
 */

/** Base class of every error thrown on purpose by a `@dfm/*` package. */
export class DfmError extends Error {
  override name = 'DfmError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An argument has the wrong type, range or value. */
export class InvalidArgumentError extends DfmError {
  override name = 'InvalidArgumentError';
}

/** A tensor or array has a shape that does not fit the call. */
export class ShapeMismatchError extends DfmError {
  override name = 'ShapeMismatchError';
}

/** A model was used before it was fitted. */
export class NotFittedError extends DfmError {
  override name = 'NotFittedError';
}

/** A backbone name (or layer) that is not among the supported ones. */
export class UnknownBackboneError extends DfmError {
  override name = 'UnknownBackboneError';
}

/** A file (weights, model, image) that cannot be read as what it claims to be. */
export class CorruptFileError extends DfmError {
  override name = 'CorruptFileError';
  /** The file at fault, when there is one (a path, or a label for in-memory bytes). */
  readonly file: string | undefined;

  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options);
    this.file = options?.file;
  }
}

/** Formats a shape for messages: `[8,16,16,256]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
