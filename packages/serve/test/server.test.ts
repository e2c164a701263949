/**
 * The service against an independent reference: the Detector on the same model file (scores, labels,
 * maps), with a tiny random-weight resnet18 (layer2) model fitted here on generated pictures. HTTP
 * over loopback with `fetch`, as clients talk to it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { type Detector, type DetectorResult, loadDetector } from '@dfm/core';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, pngChunk } from '../../core/test/png';
import { fitSmallModel, picture, writePicture } from '../../core/test/small-models';
import { createServer, type DfmServer } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'dfm-serve-'));
const H = 72;
const W = 80;
const TOKEN = 'a-long-test-token-0123';
let modelPath: string;
let reference: Detector;
const images: { name: string; bytes: Buffer; defect: boolean }[] = [];
const expected = new Map<string, DetectorResult>();

/** A response's JSON body (typed loosely, as a client reads it). */
const json = async (response: Response) => JSON.parse(await response.text());
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

beforeAll(async () => {
  await setBackend('wasm');
  const weights = join(dir, 'weights.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 7, stages: 2 }))));
  const model = await fitSmallModel({
    dir,
    weights,
    preProcessing: { imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
    height: H,
    width: W,
  });
  for (let k = 0; k < 12; k++) {
    const path = writePicture(dir, `test-${k}.png`, picture(400 + k, H, W, k % 3 === 0), H, W);
    images.push({ name: `test-${k}.png`, bytes: readFileSync(path), defect: k % 3 === 0 });
  }
  modelPath = join(dir, 'model.dfm');
  await model.save(modelPath);
  model.dispose();
  reference = await loadDetector(modelPath, { runtime: 'tfjs', workers: 0 });
  const results = await reference.predictBatch(images.map((i) => i.bytes));
  const sorted = results.map((r) => r.predScore).sort((a, b) => a - b);
  const maps = results.flatMap((r) => Array.from(r.anomalyMap?.data ?? [])).sort((a, b) => a - b);
  // Thresholds as the trainer fits them, saved into the model file, so labels and masks exist.
  const withThresholds = await (await import('@dfm/core')).DFMModel.load(modelPath, { runtime: 'tfjs', workers: 0 });
  withThresholds.postProcessing = {
    imageThreshold: (sorted[7]! + sorted[8]!) / 2,
    imageMin: sorted[0]!,
    imageMax: sorted[11]!,
    pixelThreshold: maps[Math.floor(maps.length * 0.9)]!,
    pixelMin: maps[0]!,
    pixelMax: maps[maps.length - 1]!,
  };
  await withThresholds.save(modelPath);
  withThresholds.dispose();
  await reference.close();
  reference = await loadDetector(modelPath, { runtime: 'tfjs', workers: 0 });
  (await reference.predictBatch(images.map((i) => i.bytes))).forEach((r, i) => {
    expected.set(images[i]!.name, r);
  });
}, 300_000);

afterAll(async () => {
  await reference?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof createServer>[0] extends infer O ? Partial<O> : never = {}): Promise<{ app: DfmServer; url: string }> {
  const app = await createServer({ model: modelPath, port: 0, logger: false, loadOptions: { runtime: 'tfjs', workers: 0 }, ...options });
  return { app, url: await app.dfm.listen() };
}

const post = (url: string, body: string | Uint8Array, type = 'image/png', headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': type, ...headers }, body });

/** A PNG whose header says 20000×20000 (1-bit grey): 400 million pixels from ~60 kB. */
function pngBomb(): Buffer {
  const size = 20000;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, grey, deflate, filter 0, no interlace
  const raw = Buffer.alloc(size * (1 + size / 8));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

describe('createServer: scoring', () => {
  let app: DfmServer;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await start());
  });
  afterAll(async () => {
    await app.close();
  });

  it('POST /v1/predict (raw body and multipart) gives the Detector’s scores, scaled scores and labels; ?heatmap=png a PNG overlay at the model’s size', async () => {
    let worst = 0;
    for (const { name, bytes } of images) {
      const response = await post(`${url}/v1/predict`, bytes);
      expect(response.status).toBe(200);
      const body = await json(response);
      const r = expected.get(name) as DetectorResult;
      worst = Math.max(worst, relative(body.predScore, r.predScore));
      expect(body.predLabel).toBe(r.predLabel);
      expect(Math.abs(body.normalizedScore - (r.normalizedScore as number))).toBeLessThan(1e-9);
      expect(body.timing).toMatchObject({ queueMs: expect.any(Number), scoreMs: expect.any(Number), totalMs: expect.any(Number) });
      expect(body.model.id).toMatch(/^model\.dfm@[0-9a-f]{12}$/);
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(new Set(images.map((i) => expected.get(i.name)?.predLabel))).toEqual(new Set([0, 1]));

    const form = new FormData();
    form.append('image', new Blob([images[3]!.bytes], { type: 'image/png' }), 'part.png');
    const multipart = await json(await fetch(`${url}/v1/predict?heatmap=png`, { method: 'POST', body: form }));
    expect(relative(multipart.predScore, (expected.get('test-3.png') as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    expect(multipart.heatmap).toMatchObject({ mediaType: 'image/png', width: 64, height: 64 });
    const png = await sharp(Buffer.from(multipart.heatmap.base64, 'base64')).raw().toBuffer({ resolveWithObject: true });
    expect([png.info.width, png.info.height]).toEqual([64, 64]);
  });

  it('POST /v1/predict/batch scores several images, each as alone; a bad one gets its own error', async () => {
    const form = new FormData();
    for (const { name, bytes } of images.slice(0, 5)) form.append('image', new Blob([bytes], { type: 'image/png' }), name);
    form.append('image', new Blob([Buffer.from('not an image')], { type: 'image/png' }), 'broken.png');
    const response = await fetch(`${url}/v1/predict/batch`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    const { results } = await json(response);
    expect(results).toHaveLength(6);
    results.slice(0, 5).forEach((r: { name: string; predScore: number; predLabel: number }) => {
      const e = expected.get(r.name) as DetectorResult;
      expect(relative(r.predScore, e.predScore)).toBeLessThanOrEqual(1e-6);
      expect(r.predLabel).toBe(e.predLabel);
    });
    expect(results[5]).toMatchObject({ name: 'broken.png', error: { code: 'E_IMAGE_DECODE' } });
  });

  it('GET /v1/model, /healthz, /readyz and /metrics', async () => {
    const model = await json(await fetch(`${url}/v1/model`));
    expect(model).toMatchObject({ config: { backbone: 'resnet18', layer: 'layer2', scoreType: 'fre' }, imageSize: [64, 64], backbone: { name: 'resnet18', layer: 'layer2' } });
    expect(model.postProcessing.imageThreshold).toBeGreaterThan(0);
    expect(await json(await fetch(`${url}/healthz`))).toMatchObject({ status: 'ok' });
    expect(await json(await fetch(`${url}/readyz`))).toEqual({ status: 'ready', model: model.id });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of ['dfm_http_requests_total{route="/v1/predict",method="POST",status="200"}', 'dfm_http_request_duration_seconds_bucket', 'dfm_batch_size_bucket', 'dfm_queue_depth', 'dfm_images_scored_total{label="anomalous"}', 'dfm_model_info{model_id="', 'process_resident_memory_bytes']) {
      expect(metrics, name).toContain(name);
    }
  });

  it('concurrent requests are batched together (dynamic batching), each with its own correct score', async () => {
    const before = await batchStats(url);
    const responses = await Promise.all(images.map(({ bytes }) => post(`${url}/v1/predict`, bytes).then(json)));
    responses.forEach((body, i) => {
      expect(relative(body.predScore, (expected.get(images[i]!.name) as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    });
    const after = await batchStats(url);
    expect(after.images - before.images).toBe(images.length);
    expect(after.batches - before.batches).toBeLessThan(images.length); // some batches held several images
    expect(Math.max(...responses.map((r) => r.timing.batchSize))).toBeGreaterThan(1);
  });

  it('no tensor is left behind by 20 requests', async () => {
    await json(await post(`${url}/v1/predict?heatmap=png`, images[0]!.bytes));
    const before = tf.memory().numTensors;
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(`${url}/v1/predict?heatmap=png`, images[i % images.length]!.bytes).then(json)));
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** The reference Detector, each batch made `ms` slower: a stand-in for a heavy model, so that queues fill. */
function slowDetector(ms: number): Detector {
  return new Proxy(reference, {
    get(target, property) {
      if (property === 'predictBatch') {
        return async (...args: Parameters<Detector['predictBatch']>) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return target.predictBatch(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A Detector whose batches, once `arm()` was called (after the service's warm-up), wait until `release()`:
 * requests stay in flight however slowly a loaded machine sends them.
 */
function gatedDetector(): { detector: Detector; arm: () => void; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let armed = false;
  const detector = new Proxy(reference, {
    get(target, property) {
      if (property === 'predictBatch') {
        return async (...args: Parameters<Detector['predictBatch']>) => {
          if (armed) await gate;
          return target.predictBatch(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    detector,
    arm: () => {
      armed = true;
    },
    release,
  };
}

async function batchStats(url: string): Promise<{ batches: number; images: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { batches: value('dfm_batch_size_count'), images: value('dfm_batch_size_sum') };
}

describe('createServer: hostile uploads get 4xx JSON errors that say what was wrong; the next request is answered', () => {
  let app: DfmServer;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await start({ maxUploadBytes: 1024 * 1024 }));
  });
  afterAll(async () => {
    await app.close();
  });

  const cases: [string, () => Promise<Response>, number, string, RegExp][] = [
    ['an empty body', () => post(`${url}/v1/predict`, Buffer.alloc(0)), 400, 'E_EMPTY_BODY', /empty/],
    ['text sent as a PNG', () => post(`${url}/v1/predict`, 'hello, I am not a picture'), 400, 'E_IMAGE_DECODE', /not a supported image/],
    ['a truncated PNG', () => post(`${url}/v1/predict`, images[0]!.bytes.subarray(0, 300)), 400, 'E_IMAGE_DECODE', /./],
    ['a 20000×20000 PNG bomb', () => post(`${url}/v1/predict`, pngBomb()), 413, 'E_IMAGE_TOO_LARGE', /400000000|pixel/],
    ['a wrong content type', () => post(`${url}/v1/predict`, 'x', 'text/plain'), 415, 'E_UNSUPPORTED_MEDIA_TYPE', /Content-Type/],
    ['a body over the limit', () => post(`${url}/v1/predict`, Buffer.alloc(2 * 1024 * 1024, 1)), 413, 'E_PAYLOAD_TOO_LARGE', /at most 1048576 bytes/],
    ['an unknown ?heatmap', () => post(`${url}/v1/predict?heatmap=jpeg`, images[0]!.bytes), 400, 'E_INVALID_ARGUMENT', /heatmap must be "png"/],
    ['an unknown route', () => fetch(`${url}/v1/nothing`), 404, 'E_NOT_FOUND', /no route GET \/v1\/nothing/],
  ];
  for (const [what, send, status, code, message] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = await json(response);
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(message);
      const next = await json(await post(`${url}/v1/predict`, images[1]!.bytes));
      expect(relative(next.predScore, (expected.get('test-1.png') as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    });
  }
});

describe('createServer: overload, drain, reload, token', () => {
  it('200 concurrent requests with maxQueue 32: the excess get 503 + Retry-After, every accepted one its correct score; RSS comes back', async () => {
    // A model taking 250 ms per batch of at most 4 (200 images: 12 s of work): the queue fills while
    // the burst arrives, however slowly this process (sharing the cores with other tests) sends it.
    const { app, url } = await start({ model: undefined, detector: slowDetector(250), maxQueue: 32, maxBatchSize: 4 });
    await json(await post(`${url}/v1/predict`, images[0]!.bytes));
    const rssBefore = process.memoryUsage().rss;
    const responses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const image = images[i % images.length]!;
        const response = await post(`${url}/v1/predict`, image.bytes);
        return { image, status: response.status, retryAfter: response.headers.get('retry-after'), body: await json(response) };
      }),
    );
    const accepted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 503);
    expect(accepted.length + refused.length).toBe(200);
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThanOrEqual(32);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.body.error.code).toBe('E_OVERLOADED');
    }
    for (const r of accepted) expect(relative(r.body.predScore, (expected.get(r.image.name) as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    expect(await json(await fetch(`${url}/healthz`))).toMatchObject({ status: 'ok' });
    global.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const rssAfter = process.memoryUsage().rss;
    process.stdout.write(`[serve] burst of 200 with maxQueue 32: ${accepted.length} scored, ${refused.length} refused with 503; RSS ${(rssBefore / 1e6).toFixed(0)} → ${(rssAfter / 1e6).toFixed(0)} MB\n`);
    expect(rssAfter).toBeLessThanOrEqual(rssBefore * 1.1);
    await app.close();
  });

  it('close() with 16 requests in flight answers all 16, then refuses; /readyz turns 503 while draining', async () => {
    // The model step waits at a gate until close() has been called: all 16 are received and none answered
    // when the service starts draining (a fixed delay let early ones finish first on a loaded CI machine).
    const { detector, arm, release } = gatedDetector();
    const { app, url } = await start({ model: undefined, detector, maxBatchSize: 4 });
    arm();
    const inFlight = images.concat(images).slice(0, 16).map(({ name, bytes }) => post(`${url}/v1/predict`, bytes).then(async (r) => ({ name, status: r.status, body: await json(r) })));
    while (app.dfm.inFlight < 16) await new Promise((resolve) => setTimeout(resolve, 2));
    const closed = app.close();
    release();
    const answered = await Promise.all(inFlight);
    await closed;
    expect(answered.map((a) => a.status)).toEqual(Array(16).fill(200));
    for (const a of answered) expect(relative(a.body.predScore, (expected.get(a.name) as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('a reload with a corrupt model file fails with its error and the old model keeps serving (same scores); a good file swaps in', async () => {
    const path = join(dir, 'serving.dfm');
    writeFileSync(path, readFileSync(modelPath));
    const { app, url } = await start({ model: path, token: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const score = async () => (await json(await post(`${url}/v1/predict`, images[2]!.bytes, 'image/png', auth))).predScore as number;
    const before = await score();
    const id = app.dfm.model.id;
    writeFileSync(path, Buffer.from('this is not a model file'));
    const failed = await fetch(`${url}/v1/model/reload`, { method: 'POST', headers: auth });
    expect(failed.status).toBe(422);
    expect((await json(failed)).error.code).toBe('E_CORRUPT_FILE');
    expect(await score()).toBe(before);
    expect(app.dfm.model.id).toBe(id);
    writeFileSync(path, readFileSync(modelPath));
    const ok = await fetch(`${url}/v1/model/reload`, { method: 'POST', headers: auth });
    expect(ok.status).toBe(200);
    expect((await json(ok)).reloaded).toBe(true);
    expect(await score()).toBe(before);
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain('dfm_model_reloads_total{result="failed"} 1');
    expect(metrics).toContain('dfm_model_reloads_total{result="ok"} 1');
    await app.close();
  });

  it('with a token: 401 without it (or with another) on /v1/* and /metrics; the probes and the page stay open', async () => {
    const { app, url } = await start({ token: TOKEN });
    for (const path of ['/v1/model', '/metrics']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await json(response)).error.code).toBe('E_UNAUTHORIZED');
    }
    expect((await post(`${url}/v1/predict`, images[0]!.bytes)).status).toBe(401);
    expect((await post(`${url}/v1/predict`, images[0]!.bytes, 'image/png', { authorization: 'Bearer wrong-token-000000' })).status).toBe(401);
    expect((await post(`${url}/v1/predict`, images[0]!.bytes, 'image/png', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await app.close();
  });

  it('refuses bad options with what was expected', async () => {
    await expect(createServer({ port: 0 })).rejects.toThrow(/pass exactly one of model \(a path\) and detector — got neither/);
    await expect(createServer({ model: modelPath, maxQueue: 0 })).rejects.toThrow(/maxQueue must be an integer ≥ 1 — got 0/);
    await expect(createServer({ model: modelPath, token: 'short' })).rejects.toThrow(/token must be a string of at least 8 characters/);
    await expect(createServer({ model: join(dir, 'missing.dfm'), logger: false })).rejects.toMatchObject({ code: 'E_FILE_NOT_READABLE' });
  });

  it('binds to 127.0.0.1 by default', async () => {
    const app = await createServer({ model: modelPath, port: 0, logger: false, loadOptions: { runtime: 'tfjs', workers: 0 } });
    const url = await app.dfm.listen();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await app.close();
  });
});

// A grey upload decodes like the training loader (one channel replicated).
describe('createServer: a grey PNG', () => {
  it('scores as the Detector scores it', async () => {
    const { app, url } = await start();
    const grey = encodePng(picture(900, 60, 60, true).filter((_, i) => i % 3 === 0), 60, 60, 1);
    const body = await json(await post(`${url}/v1/predict`, grey));
    const [r] = await reference.predictBatch([grey]);
    expect(relative(body.predScore, (r as DetectorResult).predScore)).toBeLessThanOrEqual(1e-6);
    await app.close();
  });
});
