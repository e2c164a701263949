import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `bytes` to `path` so that readers see either the old file or the complete new one, never
 * a partial write: a temporary file in the same folder is written, fsynced and renamed over `path`.
 * The folder is created when missing. On failure the temporary file is removed and the error
 * rethrown.
 *
 * @example
 * writeFileAtomic('model.dfm', encodeSafetensors(tensors, metadata));
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true });
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx');
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  syncFolder(folder);
}

/** fsyncs a folder so a rename is durable; ignored where the platform does not allow it. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
