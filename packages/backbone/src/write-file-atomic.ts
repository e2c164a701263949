import { nodeBuiltin } from './node-builtin';
import { DfmError } from '@dfm/errors';

/**
 * Writes `bytes` to `path` so that readers see either the old file or the complete new one, never
 * a partial write: a temporary file in the same folder is written, fsynced and renamed over `path`.
 * The folder is created when missing.
 *
 * The temporary file is hidden and named `.<name>.<pid>.<random>.tmp`, so a process killed
 * mid-write leaves at most such a file (never a partial file under `path`, never one with an
 * image or model extension). On failure (full disk, quota, permissions, a folder in the way) the
 * temporary file is removed and a DfmError names the file and the cause (`cause` holds the Node
 * error, with its `code` such as `ENOSPC`); the earlier file at `path` is unchanged.
 *
 * @example
 * writeFileAtomic('model.dfm', encodeSafetensors(tensors, metadata));
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const { randomBytes } = nodeBuiltin('crypto', 'writeFileAtomic()');
  const { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } = nodeBuiltin('fs', 'writeFileAtomic()');
  const { basename, dirname, join } = nodeBuiltin('path', 'writeFileAtomic()');
  const folder = dirname(path);
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    mkdirSync(folder, { recursive: true });
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
    throw writeError(path, error);
  }
  syncFolder(folder);
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const NOT_ALLOWED = new Set(['EACCES', 'EPERM', 'EROFS']);

function writeError(path: string, error: unknown): DfmError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const detail = error instanceof Error ? error.message : String(error);
  const fix = NO_SPACE.has(code)
    ? 'Free disk space (or raise the quota or file-size limit) and retry.'
    : NOT_ALLOWED.has(code)
      ? 'Check that the folder is writable.'
      : 'Check the path.';
  return new DfmError(
    `writeFileAtomic(): writing ${path} must succeed — it failed with ${code} (${detail}). Any earlier file at ${path} is unchanged and no partial file was left. ${fix}`,
    { cause: error, code: 'E_WRITE_FAILED' },
  );
}

/** fsyncs a folder so a rename is durable; ignored where the platform does not allow it. */
function syncFolder(folder: string): void {
  const { closeSync, fsyncSync, openSync } = nodeBuiltin('fs', 'writeFileAtomic()');
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
