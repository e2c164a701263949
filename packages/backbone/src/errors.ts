import { DfmError, type DfmErrorOptions } from '@dfm/errors';

/** A backbone name (or layer) that is not among the supported ones (`E_UNKNOWN_BACKBONE`). */
export class UnknownBackboneError extends DfmError {
  override name = 'UnknownBackboneError';

  constructor(message: string, options: DfmErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? 'E_UNKNOWN_BACKBONE' });
  }
}
