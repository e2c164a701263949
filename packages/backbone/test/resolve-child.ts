/**
 * Child process for the concurrent-resolve tests: one "worker" that resolves weights into a shared
 * cache, then reads the file it was given and prints one JSON line on stdout:
 * `{ ok: true, sha256, fileSha256, path }` or `{ ok: false, name, code, message }` (exit code 1).
 *
 * Usage: node --import tsx resolve-child.ts '<json>' with
 * - `spec`: the weights spec (a hub id, URL, 'imagenet'); the cache and hub endpoint come from
 *   `$DFM_CACHE_DIR` / `$DFM_HUB_ENDPOINT`;
 * - `waitFor` (optional): a file to wait for before resolving (a worker that starts while another
 *   one is completing the download);
 * - `holdAfterRename` (optional): after renaming a `.part` download into place, print `renamed`
 *   and stop (a synchronous pause, as a slow disk or a descheduled process would) until this file
 *   exists. Widens, deterministically, the window in which another process sees the fresh file.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { resolveWeights } from '../src/resolve-weights';

interface ChildOptions {
  spec: string;
  waitFor?: string;
  holdAfterRename?: string;
}

const options = JSON.parse(process.argv[2] as string) as ChildOptions;
const pause = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(pause, 0, 0, ms);

if (options.holdAfterRename !== undefined) {
  // resolveWeights reaches node:fs through process.getBuiltinModule, which returns this same module object.
  const release = options.holdAfterRename;
  const fsModule = process.getBuiltinModule('node:fs') as { renameSync: typeof fs.renameSync };
  const renameSync = fsModule.renameSync;
  fsModule.renameSync = (from, to) => {
    renameSync(from, to);
    if (String(from).endsWith('.part')) {
      process.stdout.write('renamed\n');
      while (!fs.existsSync(release)) sleep(10);
    }
  };
}

try {
  if (options.waitFor !== undefined) while (!fs.existsSync(options.waitFor)) await new Promise((resolve) => setTimeout(resolve, 5));
  const result = await resolveWeights(options.spec, { onProgress: () => {} });
  const fileSha256 = createHash('sha256')
    .update(fs.readFileSync(result.path as string))
    .digest('hex');
  process.stdout.write(`${JSON.stringify({ ok: true, sha256: result.sha256, fileSha256, path: result.path })}\n`);
} catch (error) {
  const { name, message, code } = error as Error & { code?: string };
  process.stdout.write(`${JSON.stringify({ ok: false, name, code, message })}\n`);
  process.exitCode = 1;
}
