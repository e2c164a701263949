import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './write-file-atomic';
import { DfmError } from '@dfm/errors';

const child = fileURLToPath(new URL('../test/atomic-write-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Temporary folders of this file, removed after its tests (earlier runs left ~100 in /tmp). */
const created: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes, replaces, creates folders and leaves no temporary file', () => {
    const dir = tempDir('dfm-atomic-');
    const path = join(dir, 'sub', 'model.dfm');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3]);
    writeFileAtomic(path, 'text');
    expect(readFileSync(path, 'utf8')).toBe('text');
    expect(readdirSync(join(dir, 'sub'))).toEqual(['model.dfm']);
  });

  it('keeps the old file and cleans up when the write fails, naming the file and the cause', () => {
    const dir = tempDir('dfm-atomic-');
    const path = join(dir, 'model.dfm');
    writeFileSync(path, 'old');
    // Renaming a file over a folder fails after the temporary file was written.
    const folder = join(dir, 'folder');
    writeFileAtomic(join(folder, 'x'), 'x');
    expect(() => writeFileAtomic(folder, 'new')).toThrow(DfmError);
    expect(() => writeFileAtomic(folder, 'new')).toThrow(
      new RegExp(`writeFileAtomic\\(\\): writing ${folder.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} must succeed — it failed with EISDIR .*Any earlier file .* is unchanged and no partial file was left\\. Check the path\\.`),
    );
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['folder', 'model.dfm']);
  });

  it.skipIf(process.platform === 'win32')('a full disk (simulated with ulimit -f: EFBIG) leaves the earlier file intact and no temporary file', () => {
    const dir = tempDir('dfm-atomic-full-');
    const target = join(dir, 'metrics.json');
    writeFileSync(target, '{"old":true}');
    const payload = join(tempDir('dfm-atomic-payload-'), 'payload.bin');
    writeFileSync(payload, Buffer.alloc(256 * 1024, 7));
    // ulimit -f counts 512- or 1024-byte blocks: 16 blocks is far below the 256 KB payload.
    const run = spawnSync('bash', ['-c', `ulimit -f 16; exec "${process.execPath}" --import tsx "${child}" once "${target}" "${payload}"`], {
      cwd: root,
      encoding: 'utf8',
    });
    const outcome = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { ok: boolean; name: string; message: string; code: string };
    expect(outcome).toMatchObject({ ok: false, name: 'DfmError', code: 'EFBIG' });
    expect(outcome.message).toMatch(/writing .*metrics\.json must succeed — it failed with EFBIG .*Free disk space/);
    expect(readFileSync(target, 'utf8')).toBe('{"old":true}');
    expect(readdirSync(dir)).toEqual(['metrics.json']);
  });

  it('SIGKILL mid-write (8 rounds) always leaves one complete payload; leftovers are hidden .tmp files only', async () => {
    const dir = tempDir('dfm-atomic-kill-');
    const target = join(dir, 'predictions.csv');
    // Two payloads of 2 MB that differ everywhere, so any mix of the two is detected.
    const a = Buffer.alloc(2 * 2 ** 20, 'a');
    const b = Buffer.alloc(2 * 2 ** 20 + 3, 'b');
    const payloads = tempDir('dfm-atomic-payloads-');
    const payloadA = join(payloads, 'a');
    const payloadB = join(payloads, 'b');
    writeFileSync(payloadA, a);
    writeFileSync(payloadB, b);
    writeFileSync(target, a);
    const seen = new Set<string>();
    for (let round = 0; round < 8; round += 1) {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, 'loop', target, payloadA, payloadB], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 5 + round * 23));
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('exit', resolve));
      const got = readFileSync(target);
      const which = got.equals(a) ? 'a' : got.equals(b) ? 'b' : 'partial';
      expect(which, `round ${round}`).not.toBe('partial');
      seen.add(which);
      for (const name of readdirSync(dir)) {
        if (name !== 'predictions.csv') expect(name).toMatch(/^\.predictions\.csv\.\d+\.[0-9a-f]{8}\.tmp$/);
      }
    }
    const leftovers = readdirSync(dir).filter((name) => name !== 'predictions.csv').length;
    process.stdout.write(`[atomic] 8 SIGKILLs mid-write: target always complete (payloads seen: ${[...seen].sort().join(', ')}), ${leftovers} hidden .tmp leftover(s)\n`);
  }, 60_000);
});
