/**
 * Reliability: the `.dfm` reader under mutation. Every mutant of a valid model file either decodes
 * to estimators that score finite values, or is refused with CorruptFileError /
 * IncompatibleModelError naming the file — never another error, a crash, a hang, a leaked tensor
 * or an allocation beyond the file's size. 1,000 mutants by default (plus 24 through the full
 * DFMModel.load with its backbone); DFM_NIGHTLY=1 runs 10,000 (and 300).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { RandomStream, randomResnetWeights } from '@dfm/backbone/internal';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FuzzTally, fuzzCount, joinSafetensors, mutateSafetensors, splitSafetensors } from '../../backbone/test/mutate-safetensors';
import { DFMModel } from './dfm-model';
import { IncompatibleModelError } from './errors';
import { decodeModelFile, encodeModel, MAX_MODEL_HEADER_BYTES, readModelMetadata } from './model-file';
import { CorruptFileError } from '@dfm/errors';

const SIZE = 32;
const dir = mkdtempSync(join(tmpdir(), 'dfm-core-fuzz-'));
const weightsPath = join(dir, 'weights.safetensors');
const bases: Record<'fre' | 'nll', Uint8Array> = { fre: new Uint8Array(0), nll: new Uint8Array(0) };
let nFeatures = 0;
let probe: tf.Tensor2D;

/** Smooth pseudo-images [count, SIZE, SIZE, 3] that differ per index. */
function images(count: number, offset: number): tf.Tensor4D {
  return tf.tidy(() => {
    const y = tf.reshape(tf.linspace(0, 1, SIZE), [1, SIZE, 1, 1]);
    const x = tf.reshape(tf.linspace(0, 1, SIZE), [1, 1, SIZE, 1]);
    const k = tf.reshape(tf.range(offset, offset + count, 1, 'float32'), [count, 1, 1, 1]);
    return tf.concat([0, 1, 2].map((c) => tf.sin(tf.add(tf.mul(tf.add(x, tf.mul(y, c + 1)), tf.add(3, tf.mul(k, 0.1))), tf.mul(k, 0.7 + c)))), 3) as tf.Tensor4D;
  });
}

/** Whether a typed error names the file it is about. */
function isTypedRefusal(error: unknown, file: string): boolean {
  if (!(error instanceof CorruptFileError || error instanceof IncompatibleModelError)) return false;
  return error.file === file && error.message.includes(file);
}

beforeAll(async () => {
  await setBackend('wasm');
  writeFileSync(weightsPath, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 5, stages: 2 }))));
  for (const scoreType of ['fre', 'nll'] as const) {
    const model = new DFMModel({ backbone: 'resnet18', layer: 'layer2', preTrained: false, poolingKernelSize: 2, scoreType, weights: weightsPath });
    const batch = images(12, 0);
    await model.fit([batch]);
    batch.dispose();
    model.metadata = { thresholds: { image: 1.25 }, note: 'fuzz base' };
    bases[scoreType] = await encodeModel(model);
    nFeatures = model.exportState().pca.mean.shape[0];
    model.dispose();
  }
  probe = tf.tidy(() => tf.mul(tf.randomNormal([3, nFeatures], 0, 1, 'float32', 3), 2) as tf.Tensor2D);
});
afterAll(() => probe?.dispose());

/** Decodes a mutant; when accepted, checks the estimators score the probe to finite values. */
function decodeAndScore(bytes: Uint8Array, label: string): 'accepted' | 'rejected' {
  let decoded: ReturnType<typeof decodeModelFile>;
  try {
    decoded = decodeModelFile(bytes, label);
  } catch (error) {
    if (isTypedRefusal(error, label)) return 'rejected';
    throw error;
  }
  const { pca, gaussian } = decoded;
  try {
    if (pca.mean.shape[0] === nFeatures) {
      const scores = tf.tidy(() => {
        const fre = tf.sum(tf.square(pca.residual(probe)), 1);
        const nll = gaussian === null ? tf.zeros([3]) : gaussian.scoreSamples(tf.tidy(() => pca.transform(probe)));
        return tf.concat([fre, nll]).dataSync();
      });
      if (scores.some(Number.isNaN)) throw new Error(`${label} decoded to a model that scores NaN`);
    }
  } finally {
    pca.dispose();
    gaussian?.dispose();
  }
  return 'accepted';
}

describe('.dfm reader under mutation (fuzz)', () => {
  it('decodeModelFile: every mutant is refused with a typed error naming the file, or scores finite (counts printed)', () => {
    const count = fuzzCount(1000, 10_000, '.dfm decodeModelFile');
    const random = new RandomStream(77, 'dfm-fuzz');
    const tally = new FuzzTally('.dfm decodeModelFile');
    const tensorsBefore = tf.memory().numTensors;
    const memoryBefore = process.memoryUsage();
    let largestInput = 0;
    for (let n = 0; n < count; n++) {
      const base = n % 2 === 0 ? bases.fre : bases.nll;
      const { kind, bytes } = mutateSafetensors(base, random);
      largestInput = Math.max(largestInput, bytes.length);
      tally.record(kind, `mutant-${n}.dfm`, () => decodeAndScore(bytes, `mutant-${n}.dfm`));
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    const grownMiB = (process.memoryUsage().arrayBuffers - memoryBefore.arrayBuffers) / 2 ** 20;
    process.stdout.write(`${tally.summary(`, leaked tensors ${leaked}, array-buffer growth ${grownMiB.toFixed(1)} MiB (largest input ${(largestInput / 1024).toFixed(0)} KiB)`)}\n`);
    expect(tally.failures).toEqual([]);
    expect(tally.crashes).toBe(0);
    expect(tally.hangs).toBe(0);
    expect(leaked).toBe(0);
    expect(tally.rejected).toBeGreaterThan(count / 2);
  });

  it('DFMModel.load (backbone included): every mutant file is refused with a typed error or predicts finite scores', async () => {
    const count = fuzzCount(24, 300, '.dfm DFMModel.load');
    const random = new RandomStream(78, 'dfm-load-fuzz');
    const tensorsBefore = tf.memory().numTensors;
    const test = images(2, 50);
    let rejected = 0;
    let accepted = 0;
    let maxMs = 0;
    for (let n = 0; n < count; n++) {
      const { bytes } = mutateSafetensors(n % 2 === 0 ? bases.fre : bases.nll, random);
      const path = join(dir, `mutant-${n}.dfm`);
      writeFileSync(path, bytes);
      const start = performance.now();
      let model: DFMModel | undefined;
      try {
        model = await DFMModel.load(path);
      } catch (error) {
        if (!isTypedRefusal(error, path)) throw new Error(`mutant ${n}: ${(error as Error).stack}`);
        rejected++;
      }
      if (model !== undefined) {
        const { predScore, anomalyMap } = await model.predict(test, { map: false });
        expect(predScore.dataSync().some(Number.isNaN)).toBe(false);
        tf.dispose([predScore, anomalyMap ?? []].flat());
        model.dispose();
        accepted++;
      }
      maxMs = Math.max(maxMs, performance.now() - start);
    }
    test.dispose();
    const leaked = tf.memory().numTensors - tensorsBefore;
    process.stdout.write(
      `[fuzz] .dfm DFMModel.load: ${count} inputs tried, ${rejected} rejected with a typed error, ${accepted} loaded and scored finite, crashes 0, hangs 0, leaked tensors ${leaked}, max ${maxMs.toFixed(0)} ms per input\n`,
    );
    expect(rejected + accepted).toBe(count);
    expect(leaked).toBe(0);
  }, 300_000);
});

/** Rewrites one metadata entry (a JSON string) of a valid file. */
function withMetadata(base: Uint8Array, key: string, edit: (value: unknown) => unknown): Uint8Array {
  const { header, data } = splitSafetensors(base);
  const metadata = header.__metadata__ as Record<string, string>;
  metadata[key] = JSON.stringify(edit(JSON.parse(metadata[key] as string)));
  return joinSafetensors(header, data);
}

/** Overwrites element `index` of tensor `name` (F32 or F64) in a valid file. */
function withValue(base: Uint8Array, name: string, index: number, value: number): Uint8Array {
  const { header, data } = splitSafetensors(base);
  const entry = header[name] as { dtype: string; data_offsets: [number, number] };
  const copy = data.slice();
  const view = new DataView(copy.buffer);
  if (entry.dtype === 'F64') view.setFloat64(entry.data_offsets[0] + 8 * index, value, true);
  else view.setFloat32(entry.data_offsets[0] + 4 * index, value, true);
  return joinSafetensors(header, copy);
}

function refusal(bytes: Uint8Array): Error {
  try {
    const { pca, gaussian } = decodeModelFile(bytes, 'bad.dfm');
    pca.dispose();
    gaussian?.dispose();
  } catch (error) {
    expect(isTypedRefusal(error, 'bad.dfm'), String(error)).toBe(true);
    return error as Error;
  }
  throw new Error('expected the file to be refused');
}

describe('.dfm estimator-state validation', () => {
  it('NaN or ±Infinity anywhere in the PCA or Gaussian tensors: CorruptFileError naming the tensor', () => {
    for (const [name, value] of [
      ['pca.mean', Number.NaN],
      ['pca.components', Number.POSITIVE_INFINITY],
      ['pca.singularValues', Number.NaN],
      ['gaussian.sigma', Number.NEGATIVE_INFINITY],
      ['gaussian.mean', Number.NaN],
    ] as const) {
      const error = refusal(withValue(bases.nll, name, 0, value));
      expect(error).toBeInstanceOf(CorruptFileError);
      expect(error.message).toMatch(new RegExp(`bad\\.dfm must hold finite values — tensor "${name.replace('.', '\\.')}" has ${String(value).replace('+', '')} at element 0`));
    }
  });

  it('mismatched lengths, shapes that do not fit together, and a zero sigma are refused with the reason', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [withMetadata(bases.fre, 'pca', (pca) => ({ ...(pca as object), k: 1e9 })), /estimator state that does not fit together \(PCA\.fromState\(\): state\.components must have/],
      [withMetadata(bases.fre, 'pca', (pca) => ({ ...(pca as object), nFeatures: -1 })), /state\.nFeatures must be a positive integer — got -1/],
      [withMetadata(bases.fre, 'pca', (pca) => ({ ...(pca as object), mean: { $tensor: 'pca.components' } })), /state\.mean must have \d+ entries/],
      [withMetadata(bases.fre, 'pca', (pca) => ({ ...(pca as object), mean: { $tensor: 'nope' } })), /lacks the tensor 'nope'/],
      [withMetadata(bases.fre, 'feature_shape', () => [2, 2, 7]), /feature_shape \[2,2,7\] \(28 features\) but a PCA over \d+ features/],
      [withMetadata(bases.fre, 'feature_shape', () => [2, -2, 7]), /feature_shape \[2,-2,7\], not \[h, w, c\] or null/],
      [withMetadata(bases.nll, 'gaussian', (g) => ({ ...(g as object), nFeatures: 1, rank: 1, mean: { $tensor: 'pca.singularValues' } })), /Gaussian|state\./],
      [withMetadata(bases.nll, 'gaussian', () => null), /is an NLL model without its Gaussian/],
      [withValue(bases.nll, 'gaussian.sigma', 0, 0), /state\.sigma must be positive — got 0/],
      [withMetadata(bases.fre, 'config', (c) => ({ ...(c as object), poolingKernelSize: 0 })), /has an invalid config \(new DFMModel\(\): poolingKernelSize must be an integer ≥ 1 — got 0/],
      [withMetadata(bases.fre, 'config', () => [1, 2]), /metadata 'config' that is not an object/],
      [withMetadata(bases.fre, 'backbone', (b) => ({ ...(b as object), weightsSha256: 'zz' })), /metadata 'backbone' that is not \{ name, layer/],
      [withMetadata(bases.fre, 'image_size', () => [64]), /image_size \[64\], not \[height, width\] or null/],
      [withMetadata(bases.fre, 'user', () => 'text'), /metadata 'user' that is not an object/],
    ];
    const before = tf.memory().numTensors;
    for (const [bytes, pattern] of cases) expect(refusal(bytes).message).toMatch(pattern);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a file from an unknown backbone or format version is IncompatibleModelError; a config never injects a backbone instance', () => {
    const future = withMetadata(
      withMetadata(bases.fre, 'config', (c) => ({ ...(c as object), backbone: 'resnet152' })),
      'backbone',
      (b) => ({ ...(b as object), name: 'resnet152' }),
    );
    const error = refusal(future);
    expect(error).toBeInstanceOf(IncompatibleModelError);
    expect(error.message).toMatch(/needs backbone "resnet152", which this @dfm\/core .* does not know \(it knows resnet18/);
    const injected = withMetadata(bases.fre, 'config', (c) => ({ ...(c as object), backboneInstance: { name: 'resnet18', layers: ['layer2'] }, weights: '/etc/passwd' }));
    const decoded = decodeModelFile(injected, 'injected.dfm');
    expect(decoded.metadata.config).not.toHaveProperty('backboneInstance');
    expect(decoded.metadata.config).not.toHaveProperty('weights');
    decoded.pca.dispose();
    decoded.gaussian?.dispose();
  });

  it('refuses a header above MAX_MODEL_HEADER_BYTES before parsing it', () => {
    const huge = withMetadata(bases.fre, 'user', () => ({ blob: 'x'.repeat(MAX_MODEL_HEADER_BYTES) }));
    expect(() => readModelMetadata(huge, 'huge.dfm')).toThrow(/huge\.dfm is not a valid safetensors file — the header length \d+ exceeds the limit of 16777216 bytes/);
  });
});
