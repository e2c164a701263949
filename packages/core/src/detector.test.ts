/**
 * The Detector against an independent reference: the training loader (`@dfm/data`'s `loadImage`
 * with the model's size and normalisation) → `DFMModel.predict` on the same model file. Tiny
 * random-weight resnet18 (layer2) models fitted here on generated PNGs.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, IMAGENET_MEAN, IMAGENET_STD, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { loadImage } from '@dfm/data';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../test/png';
import { failure, fitSmallModel, picture, writePicture as writePictureIn } from '../test/small-models';
import { DFMModel } from './dfm-model';
import { type Detector, type DetectorResult, loadDetector } from './detector';
import { jetColormap } from './jet-colormap';
import type { PostProcessing } from './post-processing';
import type { PreProcessing } from './pre-processing';
import { renderHeatmap } from './render-heatmap';

const dir = mkdtempSync(join(tmpdir(), 'dfm-detector-'));
const RUNTIME = { runtime: 'tfjs', workers: 0 } as const;
const IMAGENET = { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } as PreProcessing['normalization'];
const writePicture = (name: string, rgb: Uint8Array, height: number, width: number) => writePictureIn(dir, name, rgb, height, width);
const fitModel = (options: Omit<Parameters<typeof fitSmallModel>[0], 'dir'>) => fitSmallModel({ dir, ...options });

/** The reference: the training loader, then DFMModel.predict, on the saved model. */
async function reference(model: DFMModel, path: string): Promise<{ score: number; map: Float32Array | undefined }> {
  const { imageSize, normalization } = model.preProcessing;
  const image = await loadImage(path, { size: imageSize ?? undefined, normalize: normalization ?? undefined });
  const batch = tf.tensor4d(image.data, [1, image.height, image.width, 3]);
  const { predScore, anomalyMap } = await model.predict(batch);
  const score = (await predScore.data())[0] as number;
  const map = anomalyMap === undefined ? undefined : ((await anomalyMap.data()) as Float32Array).slice();
  tf.dispose([batch, predScore, anomalyMap as tf.Tensor]);
  return { score, map };
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
function expectClose(actual: number, expected: number, tolerance = 1e-6): void {
  expect(relative(actual, expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}


// Shared fixtures: a 64×64 ImageNet-normalised model with thresholds, fitted on 72×80 pictures.
const H = 72;
const W = 80;
let weightsPath: string;
let modelPath: string;
let model: DFMModel; // the saved model, loaded back: the reference
let post: PostProcessing;
const tests: { path: string; rgb: Uint8Array; defect: boolean }[] = [];

beforeAll(async () => {
  await setBackend('wasm');
  weightsPath = join(dir, 'weights.safetensors');
  writeFileSync(weightsPath, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 3, stages: 2 }))));
  const fitted = await fitModel({ weights: weightsPath, preProcessing: { imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: IMAGENET }, height: H, width: W });
  for (let k = 0; k < 6; k++) {
    const defect = k % 2 === 1;
    const rgb = picture(100 + k, H, W, defect);
    tests.push({ path: writePicture(`test-${k}.png`, rgb, H, W), rgb, defect });
  }
  // Thresholds as the trainer would fit them: here between the normal and the defective scores.
  const scores: number[] = [];
  const maps: Float32Array[] = [];
  for (const { path } of tests) {
    const { score, map } = await reference(fitted, path);
    scores.push(score);
    maps.push(map as Float32Array);
  }
  const sorted = [...scores].sort((a, b) => a - b);
  const pixels = maps.flatMap((m) => Array.from(m)).sort((a, b) => a - b);
  post = {
    imageThreshold: (sorted[2]! + sorted[3]!) / 2,
    imageMin: sorted[0]!,
    imageMax: sorted[5]!,
    pixelThreshold: pixels[Math.floor(pixels.length * 0.8)]!,
    pixelMin: pixels[0]!,
    pixelMax: pixels[pixels.length - 1]!,
  };
  fitted.postProcessing = post;
  modelPath = join(dir, 'model.dfm');
  await fitted.save(modelPath);
  fitted.dispose();
  model = await DFMModel.load(modelPath, RUNTIME);
}, 300_000);

afterAll(() => {
  model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Checks a result against the reference for the file `path`. */
async function expectLikeReference(result: DetectorResult, path: string, tolerance = 1e-6): Promise<void> {
  const { score, map } = await reference(model, path);
  expectClose(result.predScore, score, tolerance);
  expect(result.anomalyMap?.width).toBe(64);
  expect(result.anomalyMap?.height).toBe(64);
  const worst = Array.from(result.anomalyMap?.data ?? []).reduce((w, v, i) => Math.max(w, relative(v, map![i]!)), 0);
  expect(worst).toBeLessThanOrEqual(Math.max(tolerance, 1e-5));
}

describe('loadDetector: every source gives the same detector', () => {
  let server: Server;
  let base: string;
  let exportDir: string;
  const requested: string[] = [];

  beforeAll(async () => {
    // An export-like folder: the model re-saved with its weights given as bytes (so the file records
    // no weights path: only the folder's weights make it load), the weights, a manifest.
    exportDir = join(dir, 'export');
    mkdirSync(exportDir);
    const weights = readFileSync(weightsPath);
    const portable = await DFMModel.load(modelPath, { weights: new Uint8Array(weights), ...RUNTIME });
    await portable.save(join(exportDir, 'model.dfm'));
    portable.dispose();
    copyFileSync(weightsPath, join(exportDir, 'weights.safetensors'));
    const entry = (name: string) => {
      const bytes = readFileSync(join(exportDir, name));
      return { path: name, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
    };
    const manifest = {
      format: 'dfm-export',
      version: 1,
      files: { model: entry('model.dfm'), weights: entry('weights.safetensors'), script: { path: 'dfm.js', sha256: '0'.repeat(64) } },
      createdBy: 'the test',
    };
    writeFileSync(join(exportDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    // A plain static file server on loopback, serving the temp folder.
    server = createServer((request, response) => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
      requested.push(path);
      let body: Buffer;
      try {
        body = readFileSync(join(dir, path));
      } catch {
        response.writeHead(404).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  async function scoreWith(detector: Detector): Promise<number> {
    try {
      const { predScore } = await detector.predict(tests[1]!.path);
      return predScore;
    } finally {
      await detector.close();
    }
  }

  it('a .dfm path, its bytes, a .dfm URL, an export folder (path, URL ending with /, manifest.json URL) all score alike', async () => {
    const { score } = await reference(model, tests[1]!.path);
    const sources: [string, () => Promise<Detector>][] = [
      ['path', () => loadDetector(modelPath, RUNTIME)],
      ['bytes', () => loadDetector(new Uint8Array(readFileSync(modelPath)), RUNTIME)],
      ['.dfm URL', () => loadDetector(`${base}/model.dfm`, RUNTIME)],
      ['URL object', () => loadDetector(new URL(`${base}/model.dfm`), RUNTIME)],
      ['folder path', () => loadDetector(exportDir, RUNTIME)],
      ['manifest path', () => loadDetector(join(exportDir, 'manifest.json'), RUNTIME)],
      ['folder URL', () => loadDetector(`${base}/export/`, RUNTIME)],
      ['manifest URL', () => loadDetector(`${base}/export/manifest.json`, RUNTIME)],
    ];
    for (const [name, load] of sources) {
      const got = await scoreWith(await load());
      expect(relative(got, score), name).toBeLessThanOrEqual(1e-6);
    }
    // The folder URL fetched the manifest, the model and the weights, nothing else.
    expect(requested.filter((p) => p.startsWith('/export/'))).toEqual(
      expect.arrayContaining(['/export/manifest.json', '/export/model.dfm', '/export/weights.safetensors']),
    );
    expect(requested).not.toContain('/export/dfm.js');
  });

  it("the export folder's weights are what loads its model: its model.dfm alone records none", async () => {
    expect(await failure(loadDetector(join(exportDir, 'model.dfm'), RUNTIME))).toMatch(/^E_WEIGHTS_MISMATCH: /);
    // Given weights win over the folder's (and are checked the same way).
    expect(await scoreWith(await loadDetector(`${base}/export/`, { ...RUNTIME, weights: weightsPath }))).toBeGreaterThan(0);
  });

  it('info describes the model file and the runtime', async () => {
    const detector = await loadDetector(modelPath, RUNTIME);
    const sha = createHash('sha256').update(readFileSync(weightsPath)).digest('hex');
    expect(detector.info).toMatchObject({
      config: { backbone: 'resnet18', layer: 'layer2', scoreType: 'fre', poolingKernelSize: 4 },
      preProcessing: { imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: IMAGENET },
      postProcessing: post,
      imageSize: [64, 64],
      backbone: { name: 'resnet18', layer: 'layer2', weightsId: 'weights.safetensors', weightsSha256: sha },
      runtime: 'tfjs',
    });
    expect(detector.info.runtimeDetail).toMatch(/tfjs wasm/);
    expect(detector.info.packageVersion).toMatch(/^\d+\.\d+\.\d+/);
    detector.dispose();
  });

  it('runtime options pass through to the backbone: onnxruntime-node and onnxruntime-web score as tfjs', async () => {
    const { score } = await reference(model, tests[1]!.path);
    for (const onnxruntimePackage of ['onnxruntime-node', 'onnxruntime-web'] as const) {
      const detector = await loadDetector(modelPath, { runtime: 'onnxruntime', onnxruntimePackage, threads: 1 });
      expect(detector.info.runtime).toBe('onnxruntime');
      expect(detector.info.runtimeDetail).toContain(onnxruntimePackage);
      expectClose(await scoreWith(detector), score, 1e-4);
    }
  });

  it('a file whose sha256 differs from the manifest is refused (E_CORRUPT_FILE), from a folder and from a URL', async () => {
    const damaged = join(dir, 'damaged');
    mkdirSync(damaged);
    for (const name of ['model.dfm', 'weights.safetensors', 'manifest.json']) copyFileSync(join(exportDir, name), join(damaged, name));
    const weights = readFileSync(join(damaged, 'weights.safetensors'));
    weights[weights.length - 1] = (weights[weights.length - 1] as number) ^ 1; // same length, other bytes
    writeFileSync(join(damaged, 'weights.safetensors'), weights);
    const message = /^E_CORRUPT_FILE: loadDetector\(\): .*damaged\/weights\.safetensors has sha256 [0-9a-f]{64} — .*damaged\/manifest\.json lists [0-9a-f]{64} \(a damaged or replaced file\)\. Copy the export folder again/;
    expect(await failure(loadDetector(damaged, RUNTIME))).toMatch(message);
    expect(await failure(loadDetector(`${base}/damaged/`, RUNTIME))).toMatch(message);
    writeFileSync(join(damaged, 'model.dfm'), readFileSync(join(damaged, 'model.dfm')).subarray(0, 100));
    expect(await failure(loadDetector(damaged, RUNTIME))).toMatch(/^E_CORRUPT_FILE: loadDetector\(\): .*model\.dfm has 100 bytes — .*manifest\.json lists \d+ \(a truncated or replaced file\)/);
  });

  it('refuses bad manifests and sources, saying what was expected', async () => {
    const bad = join(dir, 'bad-manifest');
    mkdirSync(bad);
    const manifest = (value: unknown) => writeFileSync(join(bad, 'manifest.json'), typeof value === 'string' ? value : JSON.stringify(value));
    const files = JSON.parse(readFileSync(join(exportDir, 'manifest.json'), 'utf8')).files;
    manifest('{ not json');
    expect(await failure(loadDetector(bad))).toMatch(/^E_CORRUPT_FILE: loadDetector\(\): .*manifest\.json is not valid JSON/);
    manifest({ format: 'something', version: 1, files });
    expect(await failure(loadDetector(bad))).toMatch(/is not a dfm export manifest \(expected "format": "dfm-export", got "something"\)/);
    manifest({ format: 'dfm-export', version: 2, files });
    expect(await failure(loadDetector(bad))).toMatch(/^E_INCOMPATIBLE_MODEL: loadDetector\(\): .* version 2 — this version reads version 1/);
    manifest({ format: 'dfm-export', version: 1, files: { ...files, model: { ...files.model, path: '../model.dfm' } } });
    expect(await failure(loadDetector(bad))).toMatch(/^E_CORRUPT_FILE: .*files\.model\.path "\.\.\/model\.dfm": paths must be relative/);
    manifest({ format: 'dfm-export', version: 1, files: { ...files, model: { ...files.model, path: '/etc/model.dfm' } } });
    expect(await failure(loadDetector(bad))).toMatch(/files\.model\.path "\/etc\/model\.dfm": paths must be relative/);
    expect(await failure(loadDetector(join(dir, 'no-such-folder', 'manifest.json')))).toMatch(/^E_FILE_NOT_READABLE: loadDetector\(\): cannot read the export manifest .* \(ENOENT\)\. Pass a \.dfm file, or a folder written by dfm export/);
    expect(await failure(loadDetector(dir))).toMatch(/^E_FILE_NOT_READABLE: .*manifest\.json \(ENOENT\)/);
    expect(await failure(loadDetector(join(dir, 'missing.dfm')))).toMatch(/^E_FILE_NOT_READABLE: DFMModel\.load\(\): cannot read .*missing\.dfm/);
    expect(await failure(loadDetector(`${base}/missing.dfm`))).toMatch(/^E_DOWNLOAD_FAILED: loadDetector\(\): fetching the model file http:\/\/127\.0\.0\.1:\d+\/missing\.dfm failed with HTTP 404/);
    expect(await failure(loadDetector(42 as never))).toMatch(/^E_INVALID_ARGUMENT: loadDetector\(\): source must be a \.dfm path or export folder \(Node\), .* — got number 42\./);
    expect(await failure(loadDetector(new URL('ftp://x/model.dfm')))).toMatch(/^E_INVALID_ARGUMENT: loadDetector\(\): a URL source must be http\(s\) or file: — got ftp:/);
    expect(await failure(loadDetector(modelPath, { fetch: 'no' as never }))).toMatch(/^E_INVALID_ARGUMENT: loadDetector\(\): fetch must be a function/);
  });
});

describe('Detector.predict equals the training loader → DFMModel.predict', () => {
  let detector: Detector;
  beforeAll(async () => {
    detector = await loadDetector(modelPath, RUNTIME);
  });
  afterAll(() => detector?.dispose());

  it('PNG paths, bytes (Buffer and Uint8Array) and Blobs: scores and maps', async () => {
    for (const { path } of tests) {
      const bytes = readFileSync(path);
      await expectLikeReference(await detector.predict(path), path);
      await expectLikeReference(await detector.predict(bytes), path);
      await expectLikeReference(await detector.predict(new Uint8Array(bytes)), path);
      await expectLikeReference(await detector.predict(new Blob([bytes])), path);
    }
  });

  it('raw pixels: Uint8 RGB, RGBA, Uint8Clamped RGBA, grey, Uint16 and Float32', async () => {
    const { path, rgb } = tests[3]!;
    const n = H * W;
    const rgba = new Uint8ClampedArray(n * 4);
    for (let p = 0; p < n; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, (p * 7) % 256], p * 4);
    const same = async (data: RawData, channels: 1 | 3 | 4, tolerance: number, file = path) =>
      expectLikeReference(await detector.predict({ data, width: W, height: H, channels }), file, tolerance);
    // 8-bit pixels go through the very same resize as the loader's: equal, not just close.
    await same(rgb, 3, 0);
    await same(new Uint8Array(rgba.buffer), 4, 0);
    await same(rgba, 4, 0);
    await same(Uint16Array.from(rgb, (v) => v * 257), 3, 1e-6);
    await same(Float32Array.from(rgb, (v) => v / 255), 3, 1e-6);
    const grey = Uint8Array.from({ length: n }, (_, p) => rgb[p * 3 + 1]!);
    const greyPath = join(dir, 'grey.png');
    writeFileSync(greyPath, encodePng(grey, W, H, 1));
    await same(grey, 1, 0, greyPath);
    await expectLikeReference(await detector.predict(greyPath), greyPath, 0);
  });

  it('predictBatch gives the results of predict, in order, across batch boundaries', async () => {
    const inputs = [tests[0]!.path, readFileSync(tests[1]!.path), { data: tests[2]!.rgb, width: W, height: H, channels: 3 as const }, tests[3]!.path, tests[4]!.path];
    const batch = await detector.predictBatch(inputs, { batchSize: 2 });
    expect(batch).toHaveLength(5);
    for (const [i, result] of batch.entries()) await expectLikeReference(result, tests[i]!.path, 1e-5);
    expect(await detector.predictBatch([])).toEqual([]);
  });

  it('normalizedScore, predLabel and predMask are the min-max scaling and thresholds of the model', async () => {
    const labels: number[] = [];
    for (const { path } of tests) {
      const result = await detector.predict(path);
      const expected = Math.min(1, Math.max(0, (result.predScore - post.imageThreshold) / (post.imageMax - post.imageMin) + 0.5));
      expect(result.normalizedScore).toBeCloseTo(expected, 12);
      expect(result.predLabel).toBe(result.predScore > post.imageThreshold ? 1 : 0);
      labels.push(result.predLabel as number);
      const map = result.anomalyMap!.data;
      expect(result.predMask).toMatchObject({ width: 64, height: 64 });
      expect(Array.from(result.predMask!.data)).toEqual(Array.from(map, (v) => (v > (post.pixelThreshold as number) ? 1 : 0)));
    }
    expect(labels).toEqual(tests.map((t) => (t.defect ? 1 : 0))); // the thresholds separate them
  });

  it('{ map: false } gives scores only; a model without thresholds gives null labels', async () => {
    const result = await detector.predict(tests[0]!.path, { map: false });
    expect(result.anomalyMap).toBeUndefined();
    expect(result.predMask).toBeUndefined();
    await expectLikeReference({ ...result, anomalyMap: (await detector.predict(tests[0]!.path)).anomalyMap }, tests[0]!.path);
    const bare = await DFMModel.load(modelPath, RUNTIME);
    bare.postProcessing = null;
    const barePath = join(dir, 'no-thresholds.dfm');
    await bare.save(barePath);
    bare.dispose();
    const plain = await loadDetector(barePath, RUNTIME);
    const raw = await plain.predict(tests[0]!.path);
    expect(raw).toMatchObject({ normalizedScore: null, predLabel: null });
    expect(raw.predMask).toBeUndefined();
    expect(raw.anomalyMap?.data.length).toBe(64 * 64);
    await plain.close();
  });

  it('no tensor is left behind by 100 predictions', async () => {
    const input = { data: tests[0]!.rgb, width: W, height: H, channels: 3 as const };
    await detector.predict(input); // warm-up: the backend's own one-time tensors
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) await detector.predict(input);
    await detector.predictBatch([input, input, input], { batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('browser images (ImageData, ImageBitmap, canvas, <img>) are read 1:1 from a 2D canvas as RGBA, then pre-processed as raw pixels', async () => {
    // Node has no DOM: stand-ins with the DOM's shape, installed on globalThis for this test only.
    const { rgb, path } = tests[5]!;
    const rgba = new Uint8ClampedArray(H * W * 4);
    for (let p = 0; p < H * W; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
    const drawn: unknown[] = [];
    class FakeImageData {
      constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {}
    }
    class FakeImageBitmap {
      closed = false;
      constructor(readonly width: number, readonly height: number, readonly pixels: Uint8ClampedArray) {}
      close() {
        this.closed = true;
      }
    }
    class FakeImage {
      complete = false;
      naturalWidth = 0;
      naturalHeight = 0;
      constructor(readonly pixels: Uint8ClampedArray | null) {}
      async decode() {
        if (this.pixels === null) throw new Error('EncodingError: the source image cannot be decoded');
        this.complete = true;
        this.naturalWidth = W;
        this.naturalHeight = H;
      }
    }
    class FakeOffscreenCanvas {
      #source: { pixels: Uint8ClampedArray } | undefined;
      constructor(readonly width: number, readonly height: number) {}
      getContext(kind: string, options: { willReadFrequently?: boolean }) {
        expect([kind, options.willReadFrequently]).toEqual(['2d', true]);
        return {
          drawImage: (image: { pixels: Uint8ClampedArray }, dx: number, dy: number) => {
            expect([dx, dy]).toEqual([0, 0]); // at its own size: no canvas resize
            drawn.push(image);
            this.#source = image;
          },
          getImageData: (x: number, y: number, w: number, h: number) => {
            expect([x, y, w, h]).toEqual([0, 0, this.width, this.height]);
            return { data: this.#source!.pixels.slice(), width: w, height: h };
          },
        };
      }
    }
    const globals = { ImageData: FakeImageData, ImageBitmap: FakeImageBitmap, HTMLImageElement: FakeImage, OffscreenCanvas: FakeOffscreenCanvas };
    const saved = Object.fromEntries(Object.keys(globals).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)]));
    Object.assign(globalThis, globals);
    try {
      const bitmap = new FakeImageBitmap(W, H, rgba);
      for (const input of [new FakeImageData(rgba, W, H), bitmap, new FakeImage(rgba)]) {
        await expectLikeReference(await detector.predict(input as never), path, 0);
      }
      expect(drawn).toHaveLength(2);
      expect(bitmap.closed).toBe(false); // the caller's bitmap stays the caller's
      expect(await failure(detector.predict(new FakeImage(null) as never))).toMatch(
        /^E_IMAGE_DECODE: Detector\.predict\(\): input is an <img> whose image could not be loaded or decoded \(EncodingError: the source image cannot be decoded\)\. Check its src\.$/,
      );
      expect(await failure(detector.predict(new FakeImageBitmap(0, 0, rgba) as never))).toMatch(
        /^E_INVALID_ARGUMENT: Detector\.predict\(\): input is an ImageBitmap of 0×0 pixels — expected a non-empty image \(was it closed\?\)\.$/,
      );
    } finally {
      for (const [name, descriptor] of Object.entries(saved)) {
        if (descriptor === undefined) delete (globalThis as Record<string, unknown>)[name];
        else Object.defineProperty(globalThis, name, descriptor);
      }
    }
  });

  it('refuses bad inputs with E_INVALID_ARGUMENT, undecodable ones with E_IMAGE_DECODE, saying what was expected', async () => {
    const expected = 'an image path \\(Node\\), the bytes of an encoded image \\(Uint8Array\\), raw pixels \\{ data, width, height, channels: 1 \\| 3 \\| 4 \\}, or in a browser ImageData \\| ImageBitmap \\| HTMLImageElement \\| HTMLCanvasElement \\| OffscreenCanvas \\| Blob';
    const cases: [unknown, RegExp][] = [
      [42, new RegExp(`^E_INVALID_ARGUMENT: Detector\\.predict\\(\\): input must be ${expected} — got number 42\\.$`)],
      [null, /^E_INVALID_ARGUMENT: Detector\.predict\(\): input must be .* — got null\./],
      [new ArrayBuffer(8), /got a ArrayBuffer \(wrap it: new Uint8Array\(buffer\)\)\./],
      [new Uint16Array(12), /got a Uint16Array of 12 values \(raw pixels need their size: pass \{ data, width, height, channels \}\)\./],
      [{ data: new Float64Array(12), width: 2, height: 2, channels: 3 }, /^E_INVALID_ARGUMENT: Detector\.predict\(\): input must be raw pixels \{ data: Uint8Array \| Uint8ClampedArray \| Uint16Array \| Float32Array, width, height, channels: 1 \| 3 \| 4 \} with data\.length = width·height·channels — got data = a Float64Array of 12 values \(convert it with Float32Array\.from\(data\)\)\.$/],
      [{ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }, /got data\.length 10 for 2×2×3 = 12\.$/],
      [{ data: new Uint8Array(8), width: 2, height: 2, channels: 2 }, /got channels = number 2\.$/],
      [{ data: new Uint8ClampedArray(16), width: 2, height: 2 }, /got channels = undefined \(for ImageData-like RGBA pass channels: 4\)\.$/],
      [{ data: new Uint8Array(12), width: 0, height: 2, channels: 3 }, /got width number 0, height number 2 \(positive integers expected\)\.$/],
      ['', /^E_INVALID_ARGUMENT: Detector\.predict\(\): input must be .* — got an empty string\./],
      [new Uint8Array(0), /^E_INVALID_ARGUMENT: Detector\.predict\(\): input must be the bytes of an encoded image — got an empty Uint8Array\./],
      [new Blob([]), /^E_INVALID_ARGUMENT: Detector\.predict\(\): input is an empty Blob/],
      [new Uint8Array([1, 2, 3, 4]), /^E_IMAGE_DECODE: Detector\.predict\(\): image input \(4 bytes\) is not a supported image/],
      [join(dir, 'missing.png'), /^E_IMAGE_DECODE: Detector\.predict\(\): cannot read image .*missing\.png \(ENOENT\)/],
    ];
    for (const [input, message] of cases) expect(await failure(detector.predict(input as never))).toMatch(message);
    expect(await failure(detector.predictBatch([tests[0]!.path, 7 as never]))).toMatch(/^E_INVALID_ARGUMENT: Detector\.predictBatch\(\): inputs\[1\] must be .* — got number 7\./);
    expect(await failure(detector.predictBatch(tests[0]!.path as never))).toMatch(/^E_INVALID_ARGUMENT: Detector\.predictBatch\(\): inputs must be an array of images — got the string/);
    expect(await failure(detector.predict(tests[0]!.path, { map: 'yes' as never }))).toMatch(/^E_INVALID_ARGUMENT: Detector\.predict\(\): map must be true or false — got the string "yes"\./);
    expect(await failure(detector.predictBatch([tests[0]!.path], { batchSize: 0 }))).toMatch(/batchSize must be an integer ≥ 1 — got number 0\./);
    const small = await loadDetector(modelPath, { ...RUNTIME, pixelLimit: 100 });
    expect(await failure(small.predict(tests[0]!.path))).toMatch(/^E_IMAGE_TOO_LARGE: Detector\.predict\(\): image .*test-0\.png is 80×72 = 5760 pixels, above pixelLimit 100/);
    expect(await failure(small.predict({ data: tests[0]!.rgb, width: W, height: H, channels: 3 }))).toMatch(/^E_IMAGE_TOO_LARGE: Detector\.predict\(\): input is 80×72 = 5760 pixels, above pixelLimit 100/);
    small.dispose();
    expect(await failure(small.predict(tests[0]!.path))).toMatch(/^E_DISPOSED: Detector\.predict\(\): the detector was closed or disposed/);
  });
});

type RawData = Uint8Array | Uint8ClampedArray | Uint16Array | Float32Array;

describe('pre-processing other than the default', () => {
  it('custom mean/std at 48×80 (not square, not 256): scores equal the reference', async () => {
    const preProcessing: PreProcessing = { imageSize: [48, 80], resizeKernel: 'bilinear-antialiased', normalization: { mean: [0.3, 0.5, 0.7], std: [0.11, 0.35, 0.2] } };
    const fitted = await fitModel({ weights: weightsPath, preProcessing, height: 61, width: 93, count: 8 });
    const path = join(dir, 'custom.dfm');
    await fitted.save(path);
    fitted.dispose();
    const reloaded = await DFMModel.load(path, RUNTIME);
    expect(reloaded.preProcessing).toEqual(preProcessing);
    const detector = await loadDetector(path, RUNTIME);
    expect(detector.info.preProcessing).toEqual(preProcessing);
    for (const k of [0, 1, 2]) {
      const rgb = picture(200 + k, 61, 93, k === 1);
      const file = writePicture(`custom-${k}.png`, rgb, 61, 93);
      const { score, map } = await reference(reloaded, file);
      for (const input of [file, { data: rgb, width: 93, height: 61, channels: 3 as const }]) {
        const result = await detector.predict(input);
        expectClose(result.predScore, score, 0);
        expect(result.anomalyMap).toMatchObject({ width: 80, height: 48 });
        expect(Array.from(result.anomalyMap!.data)).toEqual(Array.from(map!));
      }
    }
    reloaded.dispose();
    await detector.close();
  });

  it("no resizing (imageSize null): images of the fitted size score as the reference; another size is refused", async () => {
    const preProcessing: PreProcessing = { imageSize: null, resizeKernel: 'bilinear-antialiased', normalization: null };
    const fitted = await fitModel({ weights: weightsPath, preProcessing, height: 40, width: 56, count: 8 });
    const path = join(dir, 'identity.dfm');
    await fitted.save(path);
    fitted.dispose();
    const reloaded = await DFMModel.load(path, RUNTIME);
    const detector = await loadDetector(path, RUNTIME);
    expect(detector.info).toMatchObject({ preProcessing, imageSize: [40, 56] });
    const rgb = picture(300, 40, 56, true);
    const file = writePicture('identity.png', rgb, 40, 56);
    const { score } = await reference(reloaded, file);
    expectClose((await detector.predict(file)).predScore, score, 0);
    expectClose((await detector.predict({ data: rgb, width: 56, height: 40, channels: 3 })).predScore, score, 0);
    expect(await failure(detector.predict(tests[0]!.path))).toMatch(
      /^E_IMAGE_SIZE_MISMATCH: Detector\.predict\(\): this model does not resize \(its pre-processing has imageSize null\) and was fitted on 56×40 \(w×h\) images — input is 80×72\. Resize the image to 56×40 first/,
    );
    reloaded.dispose();
    await detector.close();
  });

  it('an NLL model: scores equal the reference, and there is no map to ask for', async () => {
    const preProcessing: PreProcessing = { imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: IMAGENET };
    const fitted = await fitModel({ weights: weightsPath, preProcessing, height: H, width: W, count: 10, nComps: 4, scoreType: 'nll' });
    const path = join(dir, 'nll.dfm');
    await fitted.save(path);
    fitted.dispose();
    const reloaded = await DFMModel.load(path, RUNTIME);
    const detector = await loadDetector(path, RUNTIME);
    for (const { path: file } of tests.slice(0, 2)) {
      const { score, map } = await reference(reloaded, file);
      expect(map).toBeUndefined();
      const result = await detector.predict(file, { map: true });
      expectClose(result.predScore, score, 0);
      expect(result).toEqual({ predScore: result.predScore, normalizedScore: null, predLabel: null });
    }
    reloaded.dispose();
    await detector.close();
  });

  it("a sharp kernel (Node): encoded images are resized by sharp as the loader does; raw pixels are refused", async () => {
    const source = await DFMModel.load(modelPath, RUNTIME);
    source.preProcessing = { ...source.preProcessing, resizeKernel: 'lanczos3' };
    const path = join(dir, 'lanczos.dfm');
    await source.save(path);
    source.dispose();
    const detector = await loadDetector(path, RUNTIME);
    const reloaded = await DFMModel.load(path, RUNTIME);
    const image = await loadImage(tests[1]!.path, { size: 64, kernel: 'lanczos3', normalize: IMAGENET ?? undefined });
    const batch = tf.tensor4d(image.data, [1, 64, 64, 3]);
    const { predScore, anomalyMap } = await reloaded.predict(batch);
    const expected = (await predScore.data())[0] as number;
    tf.dispose([batch, predScore, anomalyMap as tf.Tensor]);
    expectClose((await detector.predict(tests[1]!.path)).predScore, expected, 0);
    expect(await failure(detector.predict({ data: tests[1]!.rgb, width: W, height: H, channels: 3 }))).toMatch(
      /^E_INVALID_ARGUMENT: Detector\.predict\(\): this model resizes with sharp's 'lanczos3' kernel, which only runs on encoded images in Node — input is already decoded/,
    );
    reloaded.dispose();
    await detector.close();
    const unknown = await DFMModel.load(modelPath, RUNTIME);
    unknown.preProcessing = { ...unknown.preProcessing, resizeKernel: 'bicubic-2030' };
    await unknown.save(join(dir, 'unknown-kernel.dfm'));
    unknown.dispose();
    expect(await failure(loadDetector(join(dir, 'unknown-kernel.dfm'), RUNTIME))).toMatch(
      /^E_INCOMPATIBLE_MODEL: loadDetector\(\): .*unknown-kernel\.dfm resizes with the kernel "bicubic-2030", which this version does not know/,
    );
  });
});

describe('renderHeatmap', () => {
  const map = { width: 5, height: 4, data: Float32Array.from({ length: 20 }, (_, i) => i * 0.5 - 2) };

  it('colours a map on its own range (RGBA, opaque), or on the range given', () => {
    const heat = renderHeatmap(map);
    expect(heat.width).toBe(5);
    expect(heat.height).toBe(4);
    expect(heat.data).toBeInstanceOf(Uint8ClampedArray);
    expect(heat.data.length).toBe(5 * 4 * 4);
    expect(Array.from(heat.data.subarray(0, 4))).toEqual([...jetColormap(0), 255]);
    expect(Array.from(heat.data.subarray(76, 80))).toEqual([...jetColormap(1), 255]);
    for (let p = 0; p < 20; p++) {
      expect(Array.from(heat.data.subarray(p * 4, p * 4 + 4))).toEqual([...jetColormap((map.data[p]! + 2) / 9.5), 255]);
    }
    const ranged = renderHeatmap(map, undefined, { range: [0, 1] });
    expect(Array.from(ranged.data.subarray(0, 4))).toEqual([...jetColormap(0), 255]); // −2 clamps to the low end
    expect(Array.from(ranged.data.subarray(6 * 4, 6 * 4 + 4))).toEqual([...jetColormap(1), 255]); // 1
  });

  it('lays the map over an image, resized to the map when its size differs', () => {
    const image = { data: new Uint8Array(5 * 4 * 3).fill(200), width: 5, height: 4, channels: 3 as const };
    const over = renderHeatmap(map, image, { alpha: 0.25 });
    for (let p = 0; p < 20; p++) {
      const heat = jetColormap((map.data[p]! + 2) / 9.5);
      expect(Array.from(over.data.subarray(p * 4, p * 4 + 4))).toEqual([...heat.map((h) => Math.round(0.75 * 200 + 0.25 * h)), 255]);
    }
    // A larger RGBA image of the same colour resizes to that same colour.
    const large = { data: new Uint8ClampedArray(50 * 40 * 4).fill(200), width: 50, height: 40, channels: 4 as const };
    expect(renderHeatmap(map, large, { alpha: 0.25 }).data).toEqual(over.data);
    expect(renderHeatmap(map, { data: new Float32Array(60).fill(200 / 255), width: 5, height: 4, channels: 3 }, { alpha: 0.25 }).data).toEqual(over.data);
  });

  it('draws what the detector returns, at its size', async () => {
    const detector = await loadDetector(modelPath, RUNTIME);
    const { anomalyMap } = await detector.predict(tests[1]!.path);
    const heat = renderHeatmap(anomalyMap!, { data: tests[1]!.rgb, width: W, height: H, channels: 3 });
    expect([heat.width, heat.height, heat.data.length]).toEqual([64, 64, 64 * 64 * 4]);
    await detector.close();
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => renderHeatmap({ width: 2, height: 2, data: new Float64Array(4) as never })).toThrow(
      /^renderHeatmap\(\): anomalyMap must be \{ width, height, data: Float32Array \} \(a DetectorResult's anomalyMap\) — got an object with keys \{width, height, data\} with data a Float64Array of 4 values/,
    );
    expect(() => renderHeatmap({ width: 2, height: 2, data: new Float32Array(3) })).toThrow(/anomalyMap\.data must hold width·height = 2·2 = 4 values — got 3/);
    expect(() => renderHeatmap(map, undefined, { alpha: 2 })).toThrow(/alpha must be a number in \[0, 1\] — got number 2/);
    expect(() => renderHeatmap(map, undefined, { range: [1, 0] })).toThrow(/range must be \[low, high\] with finite numbers, low ≤ high — got \[1,0\]/);
    expect(() => renderHeatmap(map, { data: new Uint8Array(5), width: 5, height: 4, channels: 3 })).toThrow(/^renderHeatmap\(\): image must be raw pixels .* got data\.length 5 for 5×4×3 = 60/);
  });
});
