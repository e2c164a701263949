import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from './encode-safetensors';
import { loadSafetensors } from './load-safetensors';
import { filesUnder } from '../test/files-under';
import { randomResnetWeights } from './random-weights';
import { resolveWeights } from './resolve-weights';


const body = Buffer.from(encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 4, stages: 1 }))));
const sha = createHash('sha256').update(body).digest('hex');
const child = fileURLToPath(new URL('../test/download-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * A cache download killed mid-way (child process + SIGKILL) leaves no file that resolveWeights or
 * a reader could take for the weights; the next resolve downloads again and succeeds.
 */
describe('resolveWeights: a download killed mid-way (SIGKILL)', () => {
  let server: Server;
  let base: string;
  let stall = true;
  const open = new Set<import('node:http').ServerResponse>();

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url !== '/weights/model.safetensors') {
        response.writeHead(404);
        response.end();
        return;
      }
      response.writeHead(200, { 'content-length': body.length });
      if (!stall) {
        response.end(body);
        return;
      }
      // Half the file, then nothing more: the client sits mid-download until it is killed.
      open.add(response);
      response.write(body.subarray(0, body.length >> 1));
      response.on('close', () => open.delete(response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const response of open) response.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('leaves only a .part file, never model.safetensors or its .sha256; the next resolve re-downloads', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'dfm-cache-kill-'));
    const url = `${base}/weights/model.safetensors`;
    const proc = spawn(process.execPath, ['--import', 'tsx', child, url, cacheDir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const said = await new Promise<string>((resolve) => proc.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(said).toMatch(/progress/);
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));

    const left = filesUnder(cacheDir);
    expect(left.some((file) => file.endsWith('model.safetensors') || file.endsWith('.sha256'))).toBe(false);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/model\.safetensors\.\d+\.[0-9a-f]{8}\.part$/);
    // The partial file is not a readable weights file either.
    expect(() => loadSafetensors(join(cacheDir, left[0] as string))).toThrow(/truncated|runs past the end|not a valid safetensors file/);

    stall = false;
    const result = await resolveWeights(url, { cacheDir, onProgress: () => {} });
    expect(result.sha256).toBe(sha);
    expect(readFileSync(result.path as string).equals(body)).toBe(true);
    process.stdout.write(`[atomic] download killed mid-way: cache held only ${left[0]}; the next resolve downloaded a verified file\n`);
  }, 60_000);

  it('a file renamed into place whose .sha256 was never written (killed in between) is downloaded again', async () => {
    stall = false;
    const cacheDir = mkdtempSync(join(tmpdir(), 'dfm-cache-kill-'));
    const url = `${base}/weights/model.safetensors`;
    const first = await resolveWeights(url, { cacheDir, onProgress: () => {} });
    const path = first.path as string;
    // The state a kill between rename and the sidecar write leaves: no .sha256 (here with a damaged file too).
    writeFileSync(`${path}.sha256`, '');
    writeFileSync(path, body.subarray(0, 100));
    const again = await resolveWeights(url, { cacheDir, onProgress: () => {} });
    expect(again.sha256).toBe(sha);
    expect(readFileSync(path).equals(body)).toBe(true);
  });
});
