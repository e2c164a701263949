import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from './create-backbone';
import { encodeSafetensors } from './encode-safetensors';
import { filesUnder } from '../test/files-under';
import { randomResnetWeights } from './random-weights';
import { cacheDirectory, type DownloadProgress, resolveWeights } from './resolve-weights';
import { setBackend } from './set-backend';
import { CorruptFileError, DfmError, InvalidArgumentError } from '@dfm/errors';


const weights = Object.fromEntries(randomResnetWeights('resnet18', { seed: 3, stages: 1 }));
const body = Buffer.from(encodeSafetensors(weights, { architecture: 'resnet18' }));
const sha = createHash('sha256').update(body).digest('hex');

describe('resolveWeights (against a loopback HTTP server)', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = request.url ?? '';
      hits.push(url);
      if (url === '/files/model.safetensors' || url === '/timm/resnet18.tv_in1k/resolve/main/model.safetensors') {
        response.writeHead(200, { 'content-length': body.length });
        response.end(body);
      } else if (url === '/redirect') {
        response.writeHead(302, { location: '/files/model.safetensors' });
        response.end();
      } else if (url === '/drop/model.safetensors') {
        response.writeHead(200, { 'content-length': body.length });
        response.write(body.subarray(0, 1000), () => response.socket?.destroy());
      } else if (url === '/drop-chunked/model.safetensors') {
        response.writeHead(200);
        response.write(body.subarray(0, 1000), () => response.socket?.destroy());
      } else {
        response.writeHead(404, 'Not Found');
        response.end('no');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const freshCache = () => mkdtempSync(join(tmpdir(), 'dfm-cache-'));

  it('downloads a URL once into the cache, records its sha256 and reports progress', async () => {
    const cacheDir = freshCache();
    const progress: DownloadProgress[] = [];
    const url = `${base}/files/model.safetensors`;
    const first = await resolveWeights(url, { cacheDir, onProgress: (p) => progress.push(p) });
    expect(first).toMatchObject({ id: url, sha256: sha });
    expect(readFileSync(first.path as string).equals(body)).toBe(true);
    expect(readFileSync(`${first.path}.sha256`, 'utf8')).toBe(`${sha}  model.safetensors\n`);
    expect(progress.at(-1)).toEqual({ url, receivedBytes: body.length, totalBytes: body.length, done: true });
    const count = hits.length;
    const second = await resolveWeights(url, { cacheDir });
    expect(second).toEqual(first);
    expect(hits.length).toBe(count);
    expect(filesUnder(cacheDir)).toHaveLength(2);
  });

  it('resolves hub ids and imagenet through the hub endpoint, with $DFM_CACHE_DIR', async () => {
    const cacheDir = freshCache();
    const env = { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base };
    expect(cacheDirectory({ env })).toBe(cacheDir);
    // The loopback hub serves random weights under this id, not the published file: name their hash.
    const hub = await resolveWeights('timm/resnet18.tv_in1k', { env, sha256: sha, onProgress: () => {} });
    expect(hub).toEqual({
      path: join(cacheDir, 'hub', 'timm--resnet18.tv_in1k', 'model.safetensors'),
      id: 'timm/resnet18.tv_in1k',
      sha256: sha,
    });
    expect(await resolveWeights('imagenet', { env, architecture: 'resnet18', sha256: sha })).toEqual(hub);
    await expect(resolveWeights('imagenet', { env })).rejects.toThrow(
      /^resolveWeights\('imagenet'\): needs options\.architecture to choose the file — got none\./,
    );
  });

  it('follows redirects', async () => {
    const result = await resolveWeights(`${base}/redirect`, { cacheDir: freshCache(), onProgress: () => {} });
    expect(result.sha256).toBe(sha);
  });

  it('a 404 leaves nothing in the cache', async () => {
    const cacheDir = freshCache();
    const url = `${base}/nothing/model.safetensors`;
    await expect(resolveWeights(url, { cacheDir })).rejects.toThrow(
      new RegExp(`^resolveWeights\\(\\): downloading ${url} must succeed — the server answered HTTP 404 Not Found\\. Check the URL`),
    );
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('a dropped connection (with or without Content-Length) leaves nothing that looks valid', async () => {
    for (const path of ['/drop/model.safetensors', '/drop-chunked/model.safetensors']) {
      const cacheDir = freshCache();
      const error = await resolveWeights(`${base}${path}`, { cacheDir, onProgress: () => {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DfmError);
      expect((error as Error).message).toMatch(/must succeed — the connection (closed|failed) after \d+ bytes/);
      expect(filesUnder(cacheDir)).toEqual([]);
    }
  });

  it('a sha256 mismatch throws CorruptFileError and keeps nothing', async () => {
    const cacheDir = freshCache();
    const wrong = '0'.repeat(64);
    await expect(resolveWeights(`${base}/files/model.safetensors`, { cacheDir, sha256: wrong })).rejects.toThrow(
      CorruptFileError,
    );
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('downloads again when the cached file was altered', async () => {
    const cacheDir = freshCache();
    const url = `${base}/files/model.safetensors`;
    const { path } = await resolveWeights(url, { cacheDir });
    writeFileSync(path as string, 'damaged');
    const count = hits.length;
    const again = await resolveWeights(url, { cacheDir });
    expect(hits.length).toBe(count + 1);
    expect(again.sha256).toBe(sha);
    expect(readFileSync(path as string).equals(body)).toBe(true);
  });

  it('resolves local paths, bytes and null without the network', async () => {
    const dir = freshCache();
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, body);
    expect(await resolveWeights(path)).toEqual({ path, id: 'w.safetensors', sha256: sha });
    expect(await resolveWeights(new Uint8Array(body))).toEqual({ path: null, id: `bytes:${sha.slice(0, 16)}`, sha256: sha });
    expect(await resolveWeights(null, { seed: 5 })).toEqual({ path: null, id: 'random:5', sha256: null });
    await expect(resolveWeights(join(dir, 'nope.safetensors'))).rejects.toThrow(InvalidArgumentError);
    await expect(resolveWeights('./no/such/dir/file.safetensors')).rejects.toThrow(/which is none of these \(no such file\)/);
  });

  it('createBackbone loads weights from a URL', async () => {
    await setBackend('cpu');
    const url = `${base}/files/model.safetensors`;
    const backbone = await createBackbone('resnet18', { weights: url, layers: ['layer1'], cacheDir: freshCache() });
    expect(backbone.weightsId).toBe(url);
    expect(backbone.weightsSha256).toBe(sha);
    const input = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const { layer1 } = backbone.extract(input);
    expect(layer1?.shape).toEqual([1, 8, 8, 64]);
    tf.dispose([input, layer1 as tf.Tensor]);
    backbone.dispose();
  });
});
