import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './write-file-atomic';

describe('writeFileAtomic', () => {
  it('writes, replaces, creates folders and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-atomic-'));
    const path = join(dir, 'sub', 'model.dfm');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3]);
    writeFileAtomic(path, 'text');
    expect(readFileSync(path, 'utf8')).toBe('text');
    expect(readdirSync(join(dir, 'sub'))).toEqual(['model.dfm']);
  });

  it('keeps the old file and cleans up when the write fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-atomic-'));
    const path = join(dir, 'model.dfm');
    writeFileSync(path, 'old');
    // Renaming a file over a folder fails after the temporary file was written.
    const folder = join(dir, 'folder');
    writeFileAtomic(join(folder, 'x'), 'x');
    expect(() => writeFileAtomic(folder, 'new')).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['folder', 'model.dfm']);
  });
});
