/**
 * The whole-model ONNX export against independent references: onnx's own checker (python3-onnx,
 * full_check), and the Detector on the `.dfm` (tfjs) for the numbers. Tiny random-weight resnet18
 * (layer2) models fitted here on generated pictures; no `.onnx` file is committed.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, IMAGENET_MEAN, IMAGENET_STD, setBackend } from '@dfm/backbone';
import { loadOnnxruntime, randomResnetWeights } from '@dfm/backbone/internal';
import { decodeImagePixels } from '@dfm/data';
import { resizeBilinearAntialiased } from '@dfm/data/pixels';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../test/png';
import { failure, fitSmallModel, picture, writePicture } from '../test/small-models';
import { DFMModel } from './dfm-model';
import { type Detector, type DetectorResult, loadDetector } from './detector';
import { exportOnnx, type OnnxExport, saveOnnxExport } from './onnx-export';
import type { PostProcessing } from './post-processing';
import type { PreProcessing } from './pre-processing';

const dir = mkdtempSync(join(tmpdir(), 'dfm-onnx-export-'));
const RUNTIME = { runtime: 'tfjs', workers: 0 } as const;
const IMAGENET: PreProcessing = { imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } };
const CHECKER = fileURLToPath(new URL('../scripts/check-onnx-export.py', import.meta.url));
const H = 72;
const W = 80;

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);


/** Thresholds between the normal and the defective pictures' scores, as the trainer would fit them. */
async function thresholds(model: DFMModel, paths: string[], pixels: boolean): Promise<PostProcessing> {
  const detector = await loadDetectorFromModel(model);
  const results = await detector.predictBatch(paths);
  await detector.close();
  const scores = results.map((r) => r.predScore).sort((a, b) => a - b);
  const values = pixels ? results.flatMap((r) => Array.from(r.anomalyMap?.data ?? [])).sort((a, b) => a - b) : [];
  const mid = Math.floor(scores.length / 2);
  return {
    imageThreshold: (scores[mid - 1]! + scores[mid]!) / 2,
    imageMin: scores[0]!,
    imageMax: scores[scores.length - 1]!,
    pixelThreshold: pixels ? values[Math.floor(values.length * 0.8)]! : null,
    pixelMin: pixels ? values[0]! : null,
    pixelMax: pixels ? values[values.length - 1]! : null,
  };
}

/** A Detector on a saved copy of `model` (the tfjs reference). */
async function loadDetectorFromModel(model: DFMModel): Promise<Detector> {
  const path = join(dir, `reference-${Math.random().toString(36).slice(2)}.dfm`);
  await model.save(path);
  return loadDetector(path, RUNTIME);
}

/** Fits, thresholds, saves and exports one model; returns the `.dfm` path and the export folder. */
async function prepare(name: string, options: { scoreType: 'fre' | 'nll'; preProcessing: PreProcessing; post: 'image+pixel' | 'image' | 'none' }) {
  const model = await fitSmallModel({ dir, weights: weightsPath, preProcessing: options.preProcessing, height: H, width: W, scoreType: options.scoreType });
  if (options.post !== 'none') model.postProcessing = await thresholds(model, tests, options.post === 'image+pixel');
  const dfm = join(dir, `${name}.dfm`);
  await model.save(dfm);
  const exported = await exportOnnx(model, { user: { dataset: { name: 'generated', category: name } } });
  const folder = join(dir, `${name}-onnx`);
  await saveOnnxExport(folder, exported);
  model.dispose();
  return { dfm, folder, exported };
}

let weightsPath: string;
const tests: string[] = [];
let fre: Awaited<ReturnType<typeof prepare>>;
let nll: Awaited<ReturnType<typeof prepare>>;
let raw: Awaited<ReturnType<typeof prepare>>;

beforeAll(async () => {
  await setBackend('wasm');
  weightsPath = join(dir, 'weights.safetensors');
  writeFileSync(weightsPath, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 5, stages: 2 }))));
  for (let k = 0; k < 8; k++) tests.push(writePicture(dir, `test-${k}.png`, picture(200 + k, H, W, k % 2 === 1), H, W));
  // A grey PNG (one channel), and an image of another size: the Detector resizes both.
  const grey = picture(300, 90, 70, true).filter((_, i) => i % 3 === 0);
  writeFileSync(join(dir, 'grey.png'), encodePng(grey, 70, 90, 1));
  tests.push(join(dir, 'grey.png'));
  fre = await prepare('fre', { scoreType: 'fre', preProcessing: IMAGENET, post: 'image+pixel' });
  nll = await prepare('nll', { scoreType: 'nll', preProcessing: IMAGENET, post: 'image' });
  raw = await prepare('raw', {
    scoreType: 'fre',
    preProcessing: { imageSize: [48, 64], resizeKernel: 'bilinear-antialiased', normalization: { mean: [0.3, 0.4, 0.5], std: [0.2, 0.3, 0.1] } },
    post: 'none',
  });
}, 300_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Compares the ONNX export's results with the `.dfm`'s (tfjs) on the same files. */
function expectSameResults(onnx: DetectorResult[], reference: DetectorResult[], post: PostProcessing | null): void {
  expect(onnx.length).toBe(reference.length);
  let worstScore = 0;
  let worstMap = 0;
  let maskPixels = 0;
  let maskAgree = 0;
  onnx.forEach((o, i) => {
    const r = reference[i]!;
    worstScore = Math.max(worstScore, relative(o.predScore, r.predScore));
    if (post === null) {
      expect(o.normalizedScore).toBeNull();
      expect(o.predLabel).toBeNull();
    } else {
      expect(Math.abs((o.normalizedScore as number) - (r.normalizedScore as number))).toBeLessThan(1e-5);
      // Labels agree but for a score within 1e-4 (relative) of the threshold.
      if (relative(r.predScore, post.imageThreshold) > 1e-4) expect(o.predLabel, `image ${i}`).toBe(r.predLabel);
    }
    expect(o.anomalyMap === undefined).toBe(r.anomalyMap === undefined);
    if (o.anomalyMap !== undefined && r.anomalyMap !== undefined) {
      expect([o.anomalyMap.height, o.anomalyMap.width]).toEqual([r.anomalyMap.height, r.anomalyMap.width]);
      const values = r.anomalyMap.data;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      for (let p = 0; p < values.length; p++) worstMap = Math.max(worstMap, Math.abs(o.anomalyMap.data[p]! - values[p]!) / (hi - lo));
    }
    expect(o.predMask === undefined).toBe(r.predMask === undefined);
    if (o.predMask !== undefined && r.predMask !== undefined) {
      maskPixels += r.predMask.data.length;
      for (let p = 0; p < r.predMask.data.length; p++) if (o.predMask.data[p] === r.predMask.data[p]) maskAgree++;
    }
  });
  expect(worstScore).toBeLessThan(1e-4);
  expect(worstMap).toBeLessThan(1e-4);
  if (maskPixels > 0) expect(maskAgree / maskPixels).toBeGreaterThanOrEqual(0.999);
}

describe('exportOnnx: the whole model as one graph', () => {
  it('passes onnx.checker.check_model(full_check=True) with opset 17; outputs, shapes and metadata as metadata.json says (python3-onnx)', async () => {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      // CI installs python3-onnx (.ci/run); a developer machine without it skips with the reason.
      if (process.env.CI) throw new Error(`python3-onnx is required in CI: ${probe.stderr || probe.error?.message}`);
      process.stdout.write(`[onnx-export] SKIPPED the checker: /usr/bin/python3 cannot import onnx (${(probe.stderr || String(probe.error)).trim()}); apt-get install python3-onnx\n`);
      return;
    }
    const run = spawnSync('/usr/bin/python3', [CHECKER, fre.folder, nll.folder, raw.folder], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.ok, l.opset])).toEqual([
      [true, 17],
      [true, 17],
      [true, 17],
    ]);
    expect(lines.map((l) => l.outputs)).toEqual([
      ['pred_score', 'anomaly_map', 'normalized_score', 'pred_label', 'pred_mask'],
      ['pred_score', 'normalized_score', 'pred_label'],
      ['pred_score', 'anomaly_map'],
    ]);
    // The checker catches a broken graph: a node reading a tensor nobody writes.
    const bad = join(dir, 'broken-onnx');
    const { onnx, metadata } = fre.exported;
    const needle = new TextEncoder().encode('pred_score');
    const bytes = Uint8Array.from(onnx);
    const at = Buffer.from(bytes).indexOf(Buffer.from(needle));
    bytes[at] = 'q'.charCodeAt(0); // the first mention: a node output renamed, so the graph output has no producer
    await saveOnnxExport(bad, { onnx: bytes, metadata: { ...metadata, model: { ...metadata.model, sha256: createHash('sha256').update(bytes).digest('hex') } } });
    const broken = spawnSync('/usr/bin/python3', [CHECKER, bad], { encoding: 'utf8' });
    expect(broken.status).toBe(1);
    expect(JSON.parse(broken.stdout.trim())).toMatchObject({ ok: false, error: expect.stringMatching(/ValidationError|InferenceError/) });
  });

  it('FRE: loadDetector(folder) on onnxruntime gives the .dfm detector’s scores (1e-4), labels, maps (1e-4 of the range) and masks (≥ 99.9%)', async () => {
    const onnx = await loadDetector(fre.folder);
    const reference = await loadDetector(fre.dfm, RUNTIME);
    expect(onnx.info.runtime).toBe('onnxruntime');
    expect(onnx.info.runtimeDetail).toMatch(/^the exported graph \(model\.onnx, opset 17\) in one session: onnxruntime-node/);
    expect(onnx.info.postProcessing).toEqual(reference.info.postProcessing);
    expect(onnx.info.backbone).toEqual(reference.info.backbone);
    const results = await onnx.predictBatch(tests, { batchSize: 4 });
    expectSameResults(results, await reference.predictBatch(tests), reference.info.postProcessing);
    // Both labels occur, and the mask marks some pixels and not others.
    expect(new Set(results.map((r) => r.predLabel))).toEqual(new Set([0, 1]));
    const marked = results.reduce((n, r) => n + (r.predMask as { data: Uint8Array }).data.reduce((a, b) => a + b, 0), 0);
    expect(marked).toBeGreaterThan(0);
    expect(marked).toBeLessThan(results.length * 64 * 64);
    // { map: false } leaves the map out.
    expect((await onnx.predict(tests[0]!, { map: false })).anomalyMap).toBeUndefined();
    await Promise.all([onnx.close(), reference.close()]);
  });

  it('NLL: scores and labels only (no map output); equal to the .dfm detector’s', async () => {
    expect(nll.exported.metadata.outputs.map((o) => o.name)).toEqual(['pred_score', 'normalized_score', 'pred_label']);
    const onnx = await loadDetector(nll.folder);
    const reference = await loadDetector(nll.dfm, RUNTIME);
    const results = await onnx.predictBatch(tests);
    expectSameResults(results, await reference.predictBatch(tests), reference.info.postProcessing);
    expect(results.every((r) => r.anomalyMap === undefined && r.predMask === undefined)).toBe(true);
    await Promise.all([onnx.close(), reference.close()]);
  });

  it('a model without thresholds, other normalisation and a non-square size: raw score and map only', async () => {
    const { metadata } = raw.exported;
    expect(metadata.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['pred_score', ['batch']],
      ['anomaly_map', ['batch', 1, 48, 64]],
    ]);
    expect(metadata.input.shape).toEqual(['batch', 3, 48, 64]);
    expect(metadata.preProcessing.normalization).toEqual({ mean: [0.3, 0.4, 0.5], std: [0.2, 0.3, 0.1] });
    const onnx = await loadDetector(join(raw.folder, 'metadata.json'));
    const reference = await loadDetector(raw.dfm, RUNTIME);
    expectSameResults(await onnx.predictBatch(tests), await reference.predictBatch(tests), null);
    await Promise.all([onnx.close(), reference.close()]);
  });

  it('the documented recipe in plain onnxruntime: resize, ÷255, NCHW; any batch size gives the same values', async () => {
    const loaded = await loadOnnxruntime();
    if (typeof loaded === 'string') throw new Error(loaded);
    const ort = loaded.ort;
    const session = await ort.InferenceSession.create(readFileSync(join(fre.folder, 'model.onnx')));
    const [height, width] = fre.exported.metadata.input.resize.size;
    expect(fre.exported.metadata.input.resize.kernel).toBe('bilinear-antialiased');
    // The docs' recipe: RGB pixels, antialiased bilinear resize to H×W, values / 255, NCHW.
    const images = await Promise.all(
      tests.slice(0, 3).map(async (path) => {
        const pixels = await decodeImagePixels(readFileSync(path));
        const rgb = pixels.channels === 3 ? pixels.data : Uint8Array.from({ length: pixels.height * pixels.width * 3 }, (_, i) => pixels.data[Math.floor(i / 3)]!);
        const hwc = resizeBilinearAntialiased(rgb, pixels.height, pixels.width, 3, height, width, 1 / 255, undefined);
        const chw = new Float32Array(3 * height * width);
        for (let p = 0; p < height * width; p++) for (let c = 0; c < 3; c++) chw[c * height * width + p] = hwc[p * 3 + c]!;
        return chw;
      }),
    );
    const batch = new Float32Array(3 * images[0]!.length);
    images.forEach((image, i) => {
      batch.set(image, i * image.length);
    });
    const three = await session.run({ image: new ort.Tensor('float32', batch, [3, 3, height, width]) });
    const one = await session.run({ image: new ort.Tensor('float32', images[1]!, [1, 3, height, width]) });
    expect(three.pred_score!.dims).toEqual([3]);
    expect(three.anomaly_map!.dims).toEqual([3, 1, height, width]);
    expect(three.pred_label!.type).toBe('bool');
    expect(Math.abs((one.pred_score!.data as Float32Array)[0]! - (three.pred_score!.data as Float32Array)[1]!)).toBeLessThanOrEqual(
      1e-6 * (three.pred_score!.data as Float32Array)[1]!,
    );
    const reference = await loadDetector(fre.dfm, RUNTIME);
    const expected = await reference.predictBatch(tests.slice(0, 3));
    expected.forEach((r, i) => {
      expect(relative((three.pred_score!.data as Float32Array)[i]!, r.predScore)).toBeLessThan(1e-4);
      expect(Boolean((three.pred_label!.data as Uint8Array)[i])).toBe(r.predLabel === 1);
    });
    await Promise.all([reference.close(), session.release()]);
  });

  it('loads from an http URL of the folder (manifest.json absent → metadata.json), checking model.onnx’s sha256', async () => {
    const requested: string[] = [];
    const server: Server = createServer((request, response) => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
      requested.push(path);
      try {
        const bytes = readFileSync(join(dir, path));
        response.writeHead(200).end(bytes);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const detector = await loadDetector(`${base}/fre-onnx/`);
      expect(requested).toEqual(['/fre-onnx/manifest.json', '/fre-onnx/metadata.json', '/fre-onnx/model.onnx']);
      const reference = await loadDetector(fre.dfm, RUNTIME);
      expectSameResults([await detector.predict(tests[1]!)], [await reference.predict(tests[1]!)], reference.info.postProcessing);
      await Promise.all([detector.close(), reference.close()]);
    } finally {
      server.close();
    }
  });

  it('refuses what it cannot use, with codes: an unfitted model, an occupied folder, a tampered graph, another metadata version, runtime tfjs, weights', async () => {
    const unfitted = new DFMModel({ backbone: 'resnet18', layer: 'layer2', weights: weightsPath, ...RUNTIME });
    expect(await failure(exportOnnx(unfitted))).toMatch(/^E_NOT_FITTED: exportOnnx\(\): the model must be fitted/);
    unfitted.dispose();
    expect(await failure(exportOnnx({} as DFMModel))).toMatch(/^E_INVALID_ARGUMENT: exportOnnx\(\): model must be a fitted DFMModel — got /);
    // Never over an earlier export.
    const before = statSync(join(fre.folder, 'model.onnx')).mtimeMs;
    expect(await failure(saveOnnxExport(fre.folder, fre.exported))).toMatch(/^E_OUTPUT_EXISTS: saveOnnxExport\(\): .*model\.onnx already exists — nothing was written/);
    expect(statSync(join(fre.folder, 'model.onnx')).mtimeMs).toBe(before);
    // A graph whose bytes differ from metadata.json's sha256.
    const tampered = join(dir, 'tampered-onnx');
    const bytes = Uint8Array.from(fre.exported.onnx);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    await saveOnnxExport(tampered, { onnx: bytes, metadata: fre.exported.metadata } as OnnxExport);
    expect(await failure(loadDetector(tampered))).toMatch(/^E_CORRUPT_FILE: .*model\.onnx/);
    // Another metadata version.
    const future = join(dir, 'future-onnx');
    await saveOnnxExport(future, { onnx: fre.exported.onnx, metadata: { ...fre.exported.metadata, version: 2 as 1 } });
    expect(await failure(loadDetector(future))).toMatch(/^E_INCOMPATIBLE_MODEL: loadDetector\(\): .*metadata version 2; this version reads 1/);
    expect(await failure(loadDetector(fre.folder, { runtime: 'tfjs' }))).toMatch(/^E_INVALID_ARGUMENT: loadDetector\(\): .* is an ONNX export, which runs on onnxruntime — got runtime "tfjs"/);
    expect(await failure(loadDetector(fre.folder, { weights: weightsPath }))).toMatch(/^E_INVALID_ARGUMENT: .*whose weights are inside the graph/);
  });

  it('leaves no tensor behind over repeated exports', async () => {
    const model = await DFMModel.load(fre.dfm, RUNTIME);
    await exportOnnx(model);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await exportOnnx(model);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
