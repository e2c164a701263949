/**
 * `--precision int8`: a model fitted on int8 features (the backbone quantized after training,
 * calibrated on training images), scored by `dfm predict` and exported as an int8 ONNX graph; a
 * request for the other precision is refused with one line.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOnnxModel } from '@dfm/backbone/internal';
import { loadDetector } from '@dfm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fastFlags, makeFixture, run } from './fixtures';

const work = mkdtempSync(join(tmpdir(), 'dfm-cli-int8-'));
let fx: Fixture;
let modelPath: string;
let input: string;

beforeAll(async () => {
  fx = await makeFixture(work, 9);
  const trained = await run(['train', ...fastFlags(fx, join(work, 'results')), '--runtime', 'onnxruntime', '--precision', 'int8', '--out', join(work, 'model.dfm'), '--json']);
  expect(trained.code, trained.err).toBe(0);
  const doc = JSON.parse(trained.out);
  expect(doc.config.model).toMatchObject({ precision: 'int8', calibration: 'minmax' });
  modelPath = doc.model;
  input = join(fx.data, 'blobs', 'test');
}, 240_000);

describe('dfm --precision int8', () => {
  it('predict scores the int8 model (its precision from the file); asking for fp32 is refused in one line', async () => {
    const predicted = await run(['predict', '--model', modelPath, '--input', input, '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    const rows = JSON.parse(predicted.out).predictions as { predScore: number }[];
    expect(rows.length).toBe(16);
    expect(rows.every((r) => Number.isFinite(r.predScore) && r.predScore > 0)).toBe(true);
    const refused = await run(['predict', '--model', modelPath, '--input', input, '--backend', 'wasm', '--precision', 'fp32']);
    expect(refused.code).toBe(2);
    expect(refused.err.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.err).toMatch(/fitted on int8 features — precision "fp32" was asked for/);
  }, 120_000);

  it('export --export-type onnx writes the QDQ graph, which scores as dfm predict does', async () => {
    const out = join(work, 'onnx');
    const exported = await run(['export', '--model', modelPath, '--out', out, '--export-type', 'onnx']);
    expect(exported.code, exported.err).toBe(0);
    const graph = decodeOnnxModel(readFileSync(join(out, 'model.onnx'))).graph;
    const ops = new Set(graph?.node?.map((n) => n.opType));
    expect(ops.has('QuantizeLinear') && ops.has('DequantizeLinear')).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8')).config.precision).toBe('int8');
    const predicted = JSON.parse((await run(['predict', '--model', modelPath, '--input', input, '--backend', 'wasm', '--json'])).out).predictions as { path: string; predScore: number }[];
    const detector = await loadDetector(out);
    const scored = await detector.predictBatch(predicted.map((p) => p.path), { map: false });
    await detector.close();
    let worst = 0;
    scored.forEach((r, i) => {
      const expected = (predicted[i] as { predScore: number }).predScore;
      worst = Math.max(worst, Math.abs(r.predScore - expected) / expected);
    });
    // The same integer network in both (integer sums do not depend on the layout); the head's float order differs.
    expect(worst).toBeLessThan(1e-3);
    // An export keeps its model's precision.
    const refused = await run(['export', '--model', modelPath, '--out', join(work, 'onnx-fp32'), '--export-type', 'onnx', '--precision', 'fp32']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/--precision fp32 asked for, but .* was fitted on int8 features/);
  }, 120_000);
});
