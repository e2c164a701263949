import { DfmError } from '@dfm/linalg';

/**
 * A model file that is valid but cannot be used here: written by another format version, or
 * fitted with another backbone or weights than the ones given. The message says what differs.
 */
export class IncompatibleModelError extends DfmError {
  override name = 'IncompatibleModelError';
  readonly file: string | undefined;

  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options);
    this.file = options?.file;
  }
}
