import { IncompatibleModelError } from '@dfm/core';
import { BadImagesError, MaskMismatchError, MissingMaskError } from '@dfm/data';
import { CorruptFileError, InvalidArgumentError, NotFittedError, ShapeMismatchError, UnknownBackboneError } from '@dfm/linalg';

/**
 * A mistake in how the command was called (unknown flag, bad value, missing folder or file).
 * The CLI prints its message on one line and exits with code 2.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit code of a user error (bad arguments, data or model file): the message says the fix. */
export const EXIT_USER_ERROR = 2;
/** Exit code of anything unexpected (a bug or the environment): rerun with --verbose for the stack. */
export const EXIT_INTERNAL_ERROR = 1;

const USER_ERRORS = [
  UsageError,
  InvalidArgumentError,
  ShapeMismatchError,
  NotFittedError,
  UnknownBackboneError,
  CorruptFileError, // includes @dfm/data's ImageDecodeError and ImageTooLargeError
  IncompatibleModelError,
  BadImagesError,
  MissingMaskError,
  MaskMismatchError,
] as const;

/** True for errors the user can fix from the message (exit 2); false for internal errors (exit 1). */
export function isUserError(error: unknown): boolean {
  return USER_ERRORS.some((kind) => error instanceof kind);
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
