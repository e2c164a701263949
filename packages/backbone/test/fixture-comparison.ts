/**
 * Compares backbone outputs with a PyTorch fixture written by scripts/make_fixtures.py (see its
 * docstring for the layout). Test helper, not part of the package.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { LayerName } from '../src/architectures';
import { loadSafetensors } from '../src/load-safetensors';
import { normalizeImageNet } from '../src/normalize-imagenet';
import { randomUniform } from '../src/random';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** The case a fixture was made for (its `case` metadata). */
export interface FixtureCase {
  name: string;
  architecture: 'resnet18' | 'resnet34' | 'resnet50' | 'wide_resnet50_2';
  weights: 'asset' | 'random';
  seed?: number;
  batch_norm?: 'identity' | 'random';
  layers: LayerName[];
  input: { seed: number; shape: [number, number, number, number] };
}

export interface LayerComparison {
  layer: LayerName;
  /** max |ours − torch| over the sampled elements (all elements for avgpool). */
  maxAbsError: number;
  /** max |torch feature| over the full map. */
  maxAbs: number;
  /** maxAbsError / maxAbs: the acceptance criterion is ≤ 1e-4. */
  relativeError: number;
  /** max over channel and spatial sums of |Δsum| / (maxAbs · sqrt(terms summed)). */
  sumError: number;
  sampled: number;
}

export function readFixture(name: string) {
  const { tensors, metadata } = loadSafetensors(`${FIXTURES_DIR}${name}.safetensors`);
  const testCase = JSON.parse(metadata?.case ?? '{}') as FixtureCase;
  const layers = JSON.parse(metadata?.layers ?? '{}') as Record<string, { shape: number[]; step: number }>;
  const get = (key: string): Float32Array => {
    const t = tensors.get(key);
    if (!t) throw new Error(`fixture ${name} lacks ${key}`);
    return t.data as Float32Array;
  };
  return { testCase, layers, get, metadata };
}

/** Compares every layer of the fixture (or those in `only`) with `outputs` (which it does not dispose). */
export async function compareWithFixture(
  name: string,
  outputs: Partial<Record<LayerName, tf.Tensor>>,
  only?: readonly LayerName[],
): Promise<LayerComparison[]> {
  const { testCase, layers, get } = readFixture(name);
  const results: LayerComparison[] = [];
  for (const layer of only ?? testCase.layers) {
    const tensor = outputs[layer];
    if (!tensor) throw new Error(`no output for ${layer}`);
    const ours = (await tensor.data()) as Float32Array;
    if (layer === 'avgpool') {
      const ref = get('avgpool.full');
      let maxAbs = 0;
      let maxAbsError = 0;
      for (let i = 0; i < ref.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(ref[i] as number));
        maxAbsError = Math.max(maxAbsError, Math.abs((ours[i] as number) - (ref[i] as number)));
      }
      if (ours.length !== ref.length) maxAbsError = Number.POSITIVE_INFINITY;
      results.push({ layer, maxAbsError, maxAbs, relativeError: maxAbsError / maxAbs, sumError: 0, sampled: ref.length });
      continue;
    }
    const info = layers[layer];
    if (!info) throw new Error(`fixture ${name} lacks the layout of ${layer}`);
    const [b, h, w, c] = info.shape as [number, number, number, number];
    if (tensor.shape.join(',') !== info.shape.join(',')) {
      throw new Error(`${layer}: shape [${tensor.shape.join(',')}] but torch gives [${info.shape.join(',')}]`);
    }
    const maxAbs = (get(`${layer}.max_abs`)[0] as number) || 1;
    const sample = get(`${layer}.sample`);
    let maxAbsError = 0;
    for (let k = 0; k < sample.length; k++) {
      maxAbsError = Math.max(maxAbsError, Math.abs((ours[k * info.step] as number) - (sample[k] as number)));
    }
    const channelSum = new Float64Array(b * c);
    const spatialSum = new Float64Array(b * h * w);
    for (let n = 0; n < b; n++) {
      for (let p = 0; p < h * w; p++) {
        for (let ch = 0; ch < c; ch++) {
          const v = ours[(n * h * w + p) * c + ch] as number;
          channelSum[n * c + ch] = (channelSum[n * c + ch] as number) + v;
          spatialSum[n * h * w + p] = (spatialSum[n * h * w + p] as number) + v;
        }
      }
    }
    const worst = (ref: Float32Array, mine: Float64Array, terms: number) => {
      let e = 0;
      for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs((mine[i] as number) - (ref[i] as number)));
      return e / (maxAbs * Math.sqrt(terms));
    };
    const sumError = Math.max(
      worst(get(`${layer}.channel_sum`), channelSum, h * w),
      worst(get(`${layer}.spatial_sum`), spatialSum, c),
    );
    results.push({ layer, maxAbsError, maxAbs, relativeError: maxAbsError / maxAbs, sumError, sampled: sample.length });
  }
  return results;
}

/**
 * Compares two runs element by element over the full maps (e.g. onnxruntime-web against
 * onnxruntime-node): per layer, max |output − reference| over max |reference|, so that
 * {@link expectParity} applies the fixtures' tolerance. Neither is disposed.
 */
export async function compareOutputs(
  reference: Partial<Record<LayerName, tf.Tensor>>,
  outputs: Partial<Record<LayerName, tf.Tensor>>,
  layers: readonly LayerName[],
): Promise<LayerComparison[]> {
  const results: LayerComparison[] = [];
  for (const layer of layers) {
    const expected = reference[layer];
    const actual = outputs[layer];
    if (!expected || !actual) throw new Error(`no output for ${layer}`);
    if (expected.shape.join(',') !== actual.shape.join(',')) {
      throw new Error(`${layer}: shape [${actual.shape.join(',')}] but the reference has [${expected.shape.join(',')}]`);
    }
    const want = (await expected.data()) as Float32Array;
    const got = (await actual.data()) as Float32Array;
    let maxAbs = 0;
    let maxAbsError = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(want[i] as number));
      maxAbsError = Math.max(maxAbsError, Math.abs((got[i] as number) - (want[i] as number)));
    }
    if (Number.isNaN(got.reduce((sum, v) => sum + v, 0))) maxAbsError = Number.POSITIVE_INFINITY;
    results.push({ layer, maxAbsError, maxAbs, relativeError: maxAbsError / (maxAbs || 1), sumError: 0, sampled: want.length });
  }
  return results;
}

/** One line per layer, for the test log. */
/** Prints the comparison and expects every layer's relative and sum error within `tolerance` (the backbone issue's 1e-4). */
export function expectParity(label: string, results: LayerComparison[], tolerance = 1e-4): void {
  process.stdout.write(`${formatComparison(label, results)}\n`);
  for (const r of results) {
    expect(r.relativeError, `${label} ${r.layer}`).toBeLessThanOrEqual(tolerance);
    expect(r.sumError, `${label} ${r.layer} sums`).toBeLessThanOrEqual(tolerance);
  }
}

export function formatComparison(label: string, results: LayerComparison[]): string {
  return results
    .map(
      (r) =>
        `[parity] ${label} ${r.layer}: max|err| ${r.maxAbsError.toExponential(2)} / max|f| ${r.maxAbs.toPrecision(4)} = ${r.relativeError.toExponential(2)} (${r.sampled} values), sums ${r.sumError.toExponential(2)}`,
    )
    .join('\n');
}

/** The fixture's input batch, rebuilt from the shared generator: uniforms in (0,1), ImageNet-normalised. */
export function fixtureInput(seed: number, shape: [number, number, number, number]): tf.Tensor4D {
  const size = shape.reduce((a, d) => a * d, 1);
  return tf.tidy(() => normalizeImageNet(tf.tensor4d(randomUniform(size, seed, 'input'), shape)));
}
