import { describe, expect, it } from 'vitest';
import { CorruptFileError, DfmError, InvalidArgumentError, formatShape } from './errors';

describe('errors', () => {
  it('keeps name, message and cause, and is an Error and a DfmError', () => {
    const cause = new Error('low-level');
    const error = new InvalidArgumentError('PCA.fit(): bad', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(DfmError);
    expect(error.name).toBe('InvalidArgumentError');
    expect(error.message).toBe('PCA.fit(): bad');
    expect(error.cause).toBe(cause);
  });

  it('CorruptFileError names the file', () => {
    const error = new CorruptFileError('loadSafetensors(): truncated', { file: '/tmp/w.safetensors' });
    expect(error.file).toBe('/tmp/w.safetensors');
    expect(error.name).toBe('CorruptFileError');
  });

  it('formats shapes compactly', () => {
    expect(formatShape([8, 16, 16, 256])).toBe('[8,16,16,256]');
  });
});
