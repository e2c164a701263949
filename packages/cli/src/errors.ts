import { DfmError, type DfmErrorCode, type DfmErrorOptions } from '@dfm/errors';

/**
 * A mistake in how the command was called (`E_USAGE`: unknown flag, bad value, missing folder or
 * file, an output that would overwrite an input). The CLI prints its message on one line and
 * exits with code 2.
 */
export class UsageError extends DfmError {
  override name = 'UsageError';

  constructor(message: string, options: DfmErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? 'E_USAGE' });
  }
}

/** Exit code of a user error (bad arguments, data or model file): the message says the fix. */
export const EXIT_USER_ERROR = 2;
/** Exit code of anything unexpected (a bug or the environment): rerun with --verbose for the stack. */
export const EXIT_INTERNAL_ERROR = 1;

/**
 * The error codes a user can fix from the message (exit 2). Every other error — `E_INTERNAL`,
 * `E_RUNTIME`, `E_DISPOSED`, or anything that is not a DfmError — is internal (exit 1).
 */
export const USER_ERROR_CODES: ReadonlySet<DfmErrorCode> = new Set<DfmErrorCode>([
  'E_USAGE',
  'E_OUTPUT_INSIDE_INPUT',
  'E_OUTPUT_EXISTS',
  'E_INVALID_ARGUMENT',
  'E_NON_FINITE',
  'E_SHAPE_MISMATCH',
  'E_IMAGE_SIZE_MISMATCH',
  'E_NOT_FITTED',
  'E_UNKNOWN_BACKBONE',
  'E_CORRUPT_FILE',
  'E_FILE_NOT_READABLE',
  'E_IMAGE_DECODE',
  'E_IMAGE_TOO_LARGE',
  'E_INCOMPATIBLE_MODEL',
  'E_WEIGHTS_MISMATCH',
  'E_PRECISION_MISMATCH',
  'E_WEIGHTS_NOT_FOUND',
  'E_BAD_IMAGES',
  'E_MISSING_MASK',
  'E_MASK_MISMATCH',
  'E_RUNTIME_UNAVAILABLE',
  'E_DOWNLOAD_FAILED',
  'E_WRITE_FAILED',
  'E_NO_CONVERGENCE',
]);

/** True for errors the user can fix from the message (exit 2), by their `code`; false for internal errors (exit 1). */
export function isUserError(error: unknown): boolean {
  return error instanceof DfmError && USER_ERROR_CODES.has(error.code);
}

/** The message on a single line (newlines folded), for `dfm: error: …`. */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
}

/** Edit distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** The closest candidate to `word` when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
