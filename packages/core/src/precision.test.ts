import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackbone, setBackend } from '@dfm/backbone';
import { loadOnnxruntime } from '@dfm/backbone/internal';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DFMModel } from './dfm-model';
import { readModelMetadata } from './model-file';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exportOnnx, saveOnnxExport } from './onnx-export';

const CHECKER = fileURLToPath(new URL('../scripts/check-onnx-export.py', import.meta.url));

const available = typeof (await loadOnnxruntime()) !== 'string';
const options = { backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 4, runtime: 'onnxruntime', nComps: 0.9 } as const;

/** `count` seeded batches of 4 random 64×64 images. */
function images(count: number, seed: number): tf.Tensor4D[] {
  return Array.from({ length: count }, (_, i) => tf.randomNormal([4, 64, 64, 3], 0, 1, 'float32', seed + i) as tf.Tensor4D);
}

describe.runIf(available)('DFMModel precision int8', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });

  it('calibrates, fits, saves its precision and ranges in the model file, and loads back to the same scores', async () => {
    const model = new DFMModel({ ...options, precision: 'int8' });
    expect(model.config.precision).toBe('int8');
    expect(model.featureLabel).toBe('resnet18/layer2/pool4/int8');
    // No ranges yet: the backbone cannot be built.
    await expect(model.ready()).rejects.toMatchObject({ code: 'E_NOT_FITTED', message: expect.stringMatching(/calibrateInt8/) });
    const calibration = images(2, 100);
    const train = images(3, 200);
    const before = tf.memory().numTensors;
    const ranges = await model.calibrateInt8(calibration);
    expect(model.int8Calibration).toBe(ranges);
    await model.fit(train);
    expect(model.backbone?.precision).toBe('int8');
    const test = images(1, 300)[0] as tf.Tensor4D;
    const { predScore, anomalyMap } = await model.predict(test);
    const scores = Array.from(await predScore.data());
    predScore.dispose();
    anomalyMap?.dispose();
    const path = join(mkdtempSync(join(tmpdir(), 'dfm-int8-')), 'model.dfm');
    await model.save(path);
    const metadata = readModelMetadata(readFileSync(path), path);
    expect(metadata.config.precision).toBe('int8');
    expect(metadata.int8Calibration).toEqual(JSON.parse(JSON.stringify(ranges)));

    const loaded = await DFMModel.load(path, { runtime: 'onnxruntime' });
    expect(loaded.config.precision).toBe('int8');
    expect(loaded.backbone?.precision).toBe('int8');
    const again = await loaded.predict(test);
    // The same int8 network (same ranges, same kernels): the same scores.
    expect(Array.from(await again.predScore.data())).toEqual(scores);
    again.predScore.dispose();
    again.anomalyMap?.dispose();
    // Its ONNX export is the QDQ graph, valid for onnx's checker (python3-onnx, full check, opset 17).
    const exported = await exportOnnx(loaded);
    expect(exported.metadata.config.precision).toBe('int8');
    const folder = join(mkdtempSync(join(tmpdir(), 'dfm-int8-onnx-')), 'export');
    await saveOnnxExport(folder, exported);
    const checked = spawnSync('/usr/bin/python3', [CHECKER, folder], { encoding: 'utf8' });
    if (checked.status === null || /No module named 'onnx'/.test(checked.stderr)) {
      if (process.env.CI) throw new Error(`python3-onnx is required in CI: ${checked.stderr || checked.error?.message}`);
      process.stdout.write('[precision] SKIPPED the onnx checker: /usr/bin/python3 cannot import onnx\n');
    } else {
      expect(checked.status, checked.stdout + checked.stderr).toBe(0);
      expect(JSON.parse(checked.stdout.trim())).toMatchObject({ ok: true, opset: 17 });
    }
    // Scoring it with fp32 features is refused before any backbone loads.
    await expect(DFMModel.load(path, { runtime: 'onnxruntime', precision: 'fp32' })).rejects.toMatchObject({
      code: 'E_PRECISION_MISMATCH',
      message: expect.stringMatching(/fitted on int8 features — precision "fp32" was asked for/),
    });
    // And on the tfjs runtime, which has no int8 network, loading says so.
    await expect(DFMModel.load(path, { runtime: 'tfjs' })).rejects.toMatchObject({ code: 'E_RUNTIME_UNAVAILABLE' });
    loaded.dispose();
    model.dispose();
    tf.dispose([...calibration, ...train, test]);
    expect(tf.memory().numTensors).toBe(before - calibration.length - train.length);
  });

  it('an fp32 model file refuses int8, and a backbone of the other precision is refused by the model', async () => {
    const model = new DFMModel(options);
    const train = images(3, 400);
    await model.fit(train);
    const path = join(mkdtempSync(join(tmpdir(), 'dfm-fp32-')), 'model.dfm');
    await model.save(path);
    expect(readModelMetadata(readFileSync(path), path).config.precision).toBe('fp32');
    await expect(DFMModel.load(path, { runtime: 'onnxruntime', precision: 'int8' })).rejects.toMatchObject({ code: 'E_PRECISION_MISMATCH' });
    const fp32 = model.backbone;
    expect(fp32).toBeDefined();
    expect(() => new DFMModel({ ...options, precision: 'int8', backboneInstance: fp32 })).toThrow(/backboneInstance computes fp32 features, but the model is int8/);
    expect(() => new DFMModel({ ...options, precision: 'int16' as never })).toThrow(/precision must be 'fp32' or 'int8'/);
    await expect(model.calibrateInt8(train)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/must have precision 'int8'/) });
    const calibration = await (fp32 as NonNullable<typeof fp32>).calibrateInt8(train);
    const int8 = await createBackbone('resnet18', { weights: null, seed: 4, layers: ['layer2'], runtime: 'onnxruntime', precision: 'int8', int8Calibration: calibration });
    expect(() => new DFMModel({ ...options, backboneInstance: int8 })).toThrow(/backboneInstance computes int8 features, but the model is fp32/);
    // Given the int8 backbone, an int8 model takes its ranges from it.
    const shared = new DFMModel({ ...options, precision: 'int8', backboneInstance: int8 });
    expect(shared.int8Calibration).toBe(calibration);
    shared.dispose();
    int8.dispose();
    model.dispose();
    tf.dispose(train);
  });
});
