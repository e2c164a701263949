import { describe, expect, it } from 'vitest';
import { CorruptFileError, DfmError, InvalidArgumentError, isDfmError, NotFittedError, ShapeMismatchError } from './dfm-error';

describe('DfmError', () => {
  it('carries a stable code, a name and a cause', () => {
    const cause = new Error('disk');
    const error = new DfmError('f(): expected x — got y. Fix it.', { code: 'E_IO', cause });
    expect(error.code).toBe('E_IO');
    expect(error.name).toBe('DfmError');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });

  it('gives each generic subclass its default code, which a caller may refine', () => {
    expect(new InvalidArgumentError('m').code).toBe('E_INVALID_ARGUMENT');
    expect(new ShapeMismatchError('m').code).toBe('E_SHAPE_MISMATCH');
    expect(new NotFittedError('m').code).toBe('E_NOT_FITTED');
    const corrupt = new CorruptFileError('m', { file: 'a.dfm' });
    expect([corrupt.code, corrupt.file, corrupt.name]).toEqual(['E_CORRUPT_FILE', 'a.dfm', 'CorruptFileError']);
    expect(new InvalidArgumentError('m', { code: 'E_NON_FINITE' }).code).toBe('E_NON_FINITE');
  });

  it('refuses a code that is not E_UPPER_CASE', () => {
    expect(() => new DfmError('m', { code: 'bad' as never })).toThrow(/code must look like 'E_SOME_CODE' — got "bad"/);
  });

  it('isDfmError() tests the class and, optionally, the code', () => {
    const error = new CorruptFileError('m');
    expect(isDfmError(error)).toBe(true);
    expect(isDfmError(error, 'E_CORRUPT_FILE', 'E_IO')).toBe(true);
    expect(isDfmError(error, 'E_IO')).toBe(false);
    expect(isDfmError(new Error('m'))).toBe(false);
  });
});
