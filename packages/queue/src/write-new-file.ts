import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DfmError } from '@dfm/errors';

/**
 * Writes `bytes` to `path` only if no file is there: a hidden temporary file in the same folder is
 * written and fsynced, then hard-linked to `path` (which fails, atomically, when `path` exists) and
 * removed. Readers never see a partial file; an existing file is never replaced. Returns false when
 * `path` existed (a retried job's output: the first copy stays).
 */
export async function writeNewFile(path: string, bytes: Uint8Array): Promise<boolean> {
  const folder = dirname(path);
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  } catch (error) {
    throw new DfmError(`writeNewFile(): writing ${path} failed with ${(error as NodeJS.ErrnoException).code ?? 'error'} (${(error as Error).message}). Check that the folder is writable and has space.`, {
      cause: error,
      code: 'E_WRITE_FAILED',
    });
  } finally {
    await rm(temporary, { force: true });
  }
}
