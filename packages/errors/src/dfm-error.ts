/**
 * The base of every error a `@dfm/*` package throws on purpose. Messages follow one template:
 * `what was called: what was expected — what was got. How to fix.`
 *
 * Callers branch on {@link DfmError.code}, a stable string such as `'E_CORRUPT_FILE'` that never
 * changes between releases, never on the message (whose wording may improve). The codes of every
 * package are listed in docs/errors.md.
 */

/** A stable error code: `E_` followed by upper-case words joined by `_`, e.g. `'E_WEIGHTS_MISMATCH'`. */
export type DfmErrorCode = `E_${Uppercase<string>}`;

/** Options of {@link DfmError} and its subclasses. */
export interface DfmErrorOptions {
  /** The error that led to this one. */
  cause?: unknown;
  /** Overrides the class's default code with a more specific one. */
  code?: DfmErrorCode;
}

const CODE_PATTERN = /^E_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;

/** Base class of every error thrown on purpose by a `@dfm/*` package; `code` says which it is. */
export class DfmError extends Error {
  override name = 'DfmError';
  /** The stable code callers branch on (see docs/errors.md). */
  readonly code: DfmErrorCode;

  /**
   * @param message What was called, what was expected, what was got, and how to fix it.
   * @param options `code` (required here, defaulted by subclasses) and `cause`.
   */
  constructor(message: string, options: DfmErrorOptions & { code: DfmErrorCode }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (typeof options.code !== 'string' || !CODE_PATTERN.test(options.code)) {
      throw new TypeError(`new DfmError(): code must look like 'E_SOME_CODE' — got ${JSON.stringify(options.code)}.`);
    }
    this.code = options.code;
  }
}

/** True when `error` is a {@link DfmError}, optionally with one of the given codes. */
export function isDfmError(error: unknown, ...codes: DfmErrorCode[]): error is DfmError {
  return error instanceof DfmError && (codes.length === 0 || codes.includes(error.code));
}

/** An argument has the wrong type, range or value (`E_INVALID_ARGUMENT` unless a subclass says more). */
export class InvalidArgumentError extends DfmError {
  override name = 'InvalidArgumentError';

  constructor(message: string, options: DfmErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? 'E_INVALID_ARGUMENT' });
  }
}

/** A tensor, array or image has a shape that does not fit the call (`E_SHAPE_MISMATCH`). */
export class ShapeMismatchError extends DfmError {
  override name = 'ShapeMismatchError';

  constructor(message: string, options: DfmErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? 'E_SHAPE_MISMATCH' });
  }
}

/** A model was used before it was fitted (`E_NOT_FITTED`). */
export class NotFittedError extends DfmError {
  override name = 'NotFittedError';

  constructor(message: string, options: DfmErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? 'E_NOT_FITTED' });
  }
}

/** A file (weights, model, image) that cannot be read as what it claims to be (`E_CORRUPT_FILE`). */
export class CorruptFileError extends DfmError {
  override name = 'CorruptFileError';
  /** The file at fault, when there is one (a path, or a label for in-memory bytes). */
  readonly file: string | undefined;

  constructor(message: string, options: DfmErrorOptions & { file?: string } = {}) {
    super(message, { ...options, code: options.code ?? 'E_CORRUPT_FILE' });
    this.file = options.file;
  }
}

/** Formats a shape for messages: `[8,16,16,256]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
