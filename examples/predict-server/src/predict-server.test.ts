import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { type Detector, loadDetector } from '@dfm/core';
import { Folder } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset } from '../../../packages/lightning-like/test/synthetic-dataset';
import { createPredictServer } from './predict-server';

const work = mkdtempSync(join(tmpdir(), 'example-server-'));
let data: SyntheticDataset;
let detector: Detector;
let base: string;
let server: ReturnType<typeof createPredictServer>;
let expected: number;

beforeAll(async () => {
  await setBackend('wasm');
  data = await makeSyntheticDataset(join(work, 'data'), { nTrain: 20, nTestNormal: 6, nTestAnomalous: 6, size: 64 });
  const weights = join(work, 'random.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 2 }))));
  const dataset = new Folder({ normalDir: data.normalDir, normalTestDir: data.normalTestDir, abnormalDir: data.abnormalDir, name: 'parts' });
  const fitted = new Dfm({ backbone: 'resnet18', layer: 'layer2', weights, preProcessor: new PreProcessor({ imageSize: [64, 64] }) });
  const engine = new Engine({ defaultRootDir: join(work, 'results') });
  const { checkpointPath } = await engine.fit(fitted, dataset);
  fitted.dispose();
  // The reference: the Engine scoring the file (the training loader), as `dfm test` does.
  const model = await Dfm.load(checkpointPath as string, { visualizer: false });
  expected = (await engine.predict(model, [join(data.abnormalDir, '002.png')]))[0]?.predScore as number;
  model.dispose();
  detector = await loadDetector(checkpointPath as string, { pixelLimit: 1_000_000 });
  server = createPredictServer({ detector, maxBytes: 64 * 1024, timeoutMs: 20_000 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await detector.close();
});

const post = (body: Uint8Array | string, type: string | undefined) =>
  fetch(`${base}/predict`, { method: 'POST', body, headers: type === undefined ? {} : { 'content-type': type } });

describe('examples/predict-server', () => {
  it('scores an uploaded PNG like Engine.predict scores the file (1e-6 relative)', async () => {
    const response = await post(readFileSync(join(data.abnormalDir, '002.png')), 'image/png');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { predScore: number; predLabel: number | null; normalizedScore: number };
    expect(Object.keys(body).sort()).toEqual(['normalizedScore', 'predLabel', 'predScore']);
    expect(Math.abs(body.predScore - expected) / expected).toBeLessThanOrEqual(1e-6);
    expect(body.predLabel === 0 || body.predLabel === 1).toBe(true);
    expect(body.normalizedScore).toBeGreaterThanOrEqual(0);
  });

  it('accepts JPEG too, and answers GET /health', async () => {
    const jpeg = await sharp(readFileSync(join(data.normalDir, '000.png'))).jpeg().toBuffer();
    const response = await post(jpeg, 'image/jpeg; charset=binary');
    expect(response.status).toBe(200);
    // A good part scores far below the one with a blob (measured 0.036 vs 2.86) and is labelled normal.
    const body = (await response.json()) as { predScore: number; predLabel: number | null };
    expect(body.predScore).toBeLessThan(expected / 5);
    expect(body.predLabel).toBe(0);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ ok: true, imageSize: [64, 64], thresholds: true });
  });

  it('refuses a wrong content type (415), a body over the limit (413), bytes that are no image or too many pixels (400), an empty body (400)', async () => {
    const png = readFileSync(join(data.abnormalDir, '002.png'));
    expect((await post(png, 'application/octet-stream')).status).toBe(415);
    expect((await post(png, undefined)).status).toBe(415);
    const big = await post(new Uint8Array(200 * 1024), 'image/png');
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toMatch(/at most 65536 bytes/);
    const garbage = await post('definitely not a png', 'image/png');
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: string }).error).toMatch(/not a readable image/);
    expect((await post(new Uint8Array(0), 'image/png')).status).toBe(400);
    // 1200×1000 pixels, above the detector's pixelLimit of 1,000,000: refused from the header.
    const large = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#888' } }).png().toBuffer();
    const tooLarge = await post(large, 'image/png');
    expect(tooLarge.status).toBe(400);
    expect(((await tooLarge.json()) as { error: string }).error).toMatch(/not a readable image .*pixel/);
    // The server keeps serving after refusals, and leaks no tensor.
    const health = (await (await fetch(`${base}/health`)).json()) as { tensors: number };
    expect((await post(readFileSync(join(data.abnormalDir, '002.png')), 'image/png')).status).toBe(200);
    expect(((await (await fetch(`${base}/health`)).json()) as { tensors: number }).tensors).toBe(health.tensors);
  });

  it('answers 404 elsewhere and 405 for other methods on /predict', async () => {
    expect((await fetch(`${base}/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${base}/predict`)).status).toBe(405);
  });

  it('answers 503 when a request takes longer than the timeout', async () => {
    const slow = createPredictServer({ detector, timeoutMs: 200 });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/predict`;
    // Send the headers, then nothing: the upload never finishes.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': '1000' } }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.write('partial');
    });
    expect(status).toBe(503);
    await new Promise((resolve) => slow.close(resolve));
  });
});
