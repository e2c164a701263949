/**
 * Small, fast inputs for the CLI tests: a synthetic MVTec-layout dataset (64 px PNGs written with
 * sharp by the lightning-like test helper) and a seeded random resnet18 (stages 1–2) weights file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { encodeSafetensors } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { makeSyntheticDataset, type SyntheticDataset } from '../../lightning-like/test/synthetic-dataset';
import { main } from '../src/main';

export interface Fixture {
  /** `--data`: holds the category folder `blobs/` (train/good, test/good, test/blob, ground_truth/blob). */
  data: string;
  category: string;
  dataset: SyntheticDataset;
  weights: string;
}

export async function makeFixture(dir: string, seed = 1): Promise<Fixture> {
  const dataset = await makeSyntheticDataset(join(dir, 'data', 'blobs'), { nTrain: 24, nTestNormal: 8, nTestAnomalous: 8, size: 64, seed });
  const weights = join(dir, 'resnet18-random-layer1-2.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 2 }))));
  return { data: join(dir, 'data'), category: 'blobs', dataset, weights };
}

/** The model and run flags every fast test uses. */
export function fastFlags(fixture: Fixture, results: string): string[] {
  return [
    '--data', fixture.data, '--category', fixture.category,
    '--backbone', 'resnet18', '--layer', 'layer2', '--weights', fixture.weights,
    '--image-size', '64', '--batch-size', '8', '--backend', 'wasm', '--results-dir', results,
  ];
}

/** A writable stream that keeps what is written. */
export function sink(isTTY = false) {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream: Object.assign(stream, { isTTY }), text: () => text };
}

/** Runs `dfm <argv>` in-process → exit code, stdout, stderr. */
export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream, env);
  return { code, out: out.text(), err: err.text() };
}
