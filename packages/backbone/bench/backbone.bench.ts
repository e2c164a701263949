/**
 * `pnpm --filter @dfm/backbone bench`: ms per 256×256 image, resnet18→layer3 and resnet50→layer3,
 * batch 1 and 16, on each available backend, beside PyTorch (bench/backbone_torch.py, run with
 * /usr/bin/python3 in the same run) as ratios. Random weights for resnet50 (speed only).
 *
 * Options: --iterations N (default 2, after one warm-up), --batches 1,16, --backends tensorflow,wasm,cpu,
 * --full (the cpu backend at every size; by default it runs resnet18 at batch 1 only: ~7 s per image).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { type BackboneName, createBackbone, setBackend } from '../src/index';
import { findAssetsDir } from '../src/internal';

const SIZE = 256;
const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const iterations = Number(option('iterations', '2'));
const batches = option('batches', '1,16').split(',').map(Number);
const backends = option('backends', 'tensorflow,wasm,cpu').split(',');
const full = process.argv.includes('--full');
const models: BackboneName[] = ['resnet18', 'resnet50'];

interface Row {
  model: BackboneName;
  batch: number;
  backend: string;
  msPerImage: number;
}

function torchTimes(): { note: string; times: Map<string, number> } {
  const script = fileURLToPath(new URL('./backbone_torch.py', import.meta.url));
  const run = spawnSync(
    '/usr/bin/python3',
    [script, '--models', models.join(','), '--batches', batches.join(','), '--iterations', String(iterations)],
    { encoding: 'utf8' },
  );
  if (run.error || run.status !== 0) {
    const why = run.error ? run.error.message : (run.stderr.trim().split('\n').pop() ?? `exit ${run.status}`);
    return { note: `PyTorch skipped: ${why}`, times: new Map() };
  }
  const parsed = JSON.parse(run.stdout) as { torch: string; threads: number; results: { model: string; batch: number; msPerImage: number }[] };
  return {
    note: `PyTorch ${parsed.torch}, ${parsed.threads} threads`,
    times: new Map(parsed.results.map((r) => [`${r.model}/${r.batch}`, r.msPerImage])),
  };
}

async function timeBackbone(model: BackboneName, batch: number): Promise<number> {
  const assets = findAssetsDir({ require: [WEIGHTS] });
  const weights = model === 'resnet18' && assets.found ? `${assets.dir}/${WEIGHTS}` : null;
  const backbone = await createBackbone(model, { weights, layers: ['layer3'] });
  const input = tf.randomNormal([batch, SIZE, SIZE, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const once = async () => {
    const { layer3 } = backbone.extract(input);
    await (layer3 as tf.Tensor).data();
    tf.dispose(layer3 as tf.Tensor);
  };
  await once(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  input.dispose();
  backbone.dispose();
  times.sort((a, b) => a - b);
  return (times[Math.floor(times.length / 2)] as number) / batch;
}

async function main() {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const choice of backends) {
    let backend: string;
    try {
      const result = await setBackend(choice);
      backend = result.backend;
      notes.push(result.reason);
    } catch (error) {
      notes.push(`${choice}: skipped — ${(error as Error).message.split(' — ')[1] ?? (error as Error).message}`);
      continue;
    }
    for (const model of models) {
      for (const batch of batches) {
        if (backend === 'cpu' && !full && (model !== 'resnet18' || batch !== 1)) continue;
        const msPerImage = await timeBackbone(model, batch);
        rows.push({ model, batch, backend, msPerImage });
        process.stderr.write(`  ${backend} ${model} batch ${batch}: ${msPerImage.toFixed(1)} ms/img\n`);
      }
    }
  }
  if (!full && backends.includes('cpu')) notes.push('cpu: resnet18 at batch 1 only (pass --full for all)');
  const torch = torchTimes();
  notes.push(torch.note);
  const lines = [
    `ms per ${SIZE}×${SIZE} image up to layer3 (median of ${iterations} after a warm-up; this machine: ${(await import('node:os')).cpus().length} cores)`,
    '',
    '| model | batch | backend | tfjs ms/img | PyTorch ms/img | tfjs / PyTorch |',
    '|---|---:|---|---:|---:|---:|',
  ];
  for (const row of rows) {
    const peer = torch.times.get(`${row.model}/${row.batch}`);
    lines.push(
      `| ${row.model} | ${row.batch} | ${row.backend} | ${row.msPerImage.toFixed(1)} | ${peer === undefined ? '—' : peer.toFixed(1)} | ${peer === undefined ? '—' : `${(row.msPerImage / peer).toFixed(1)}×`} |`,
    );
  }
  lines.push('', ...notes.map((n) => `- ${n}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
