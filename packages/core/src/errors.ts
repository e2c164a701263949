import { DfmError, type DfmErrorOptions } from '@dfm/errors';

/**
 * A model file that is valid but cannot be used here (`E_INCOMPATIBLE_MODEL`): written by another
 * format version, or for a backbone this version does not know. The message says what differs.
 */
export class IncompatibleModelError extends DfmError {
  override name = 'IncompatibleModelError';
  readonly file: string | undefined;

  constructor(message: string, options: DfmErrorOptions & { file?: string } = {}) {
    super(message, { ...options, code: options.code ?? 'E_INCOMPATIBLE_MODEL' });
    this.file = options.file;
  }
}

/**
 * The backbone weights given to a fitted model are not the ones it was fitted with
 * (`E_WEIGHTS_MISMATCH`): their sha256 differs from the one the model file records.
 */
export class WeightsMismatchError extends IncompatibleModelError {
  override name = 'WeightsMismatchError';

  constructor(message: string, options: DfmErrorOptions & { file?: string } = {}) {
    super(message, { ...options, code: options.code ?? 'E_WEIGHTS_MISMATCH' });
  }
}
