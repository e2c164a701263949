import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { type Detector, loadDetector } from '@dfm/core';
import { Folder } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset } from '../../../packages/lightning-like/test/synthetic-dataset';
import type { DfmServer } from '@dfm/serve';
import { createStationServer } from './station-server';

const work = mkdtempSync(join(tmpdir(), 'example-server-'));
let data: SyntheticDataset;
let detector: Detector;
let base: string;
let app: DfmServer;
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
  detector = await loadDetector(checkpointPath as string);
  app = await createStationServer({ model: checkpointPath as string, port: 0, logger: false });
  base = await app.dfm.listen();
});

afterAll(async () => {
  await app.close();
  await detector.close();
});

const frame = (station: string, body: Uint8Array | string, type = 'image/png') =>
  fetch(`${base}/stations/${station}/frames`, { method: 'POST', body, headers: { 'content-type': type } });
const json = async (response: Response) => JSON.parse(await response.text());

describe('examples/predict-server: @dfm/serve with a station route', () => {
  it('a station frame scores like Engine.predict scores the file (1e-6 relative), and like the service’s own /v1/predict', async () => {
    const png = readFileSync(join(data.abnormalDir, '002.png'));
    const response = await frame('A', png);
    expect(response.status).toBe(200);
    const verdict = await json(response);
    expect(verdict).toMatchObject({ station: 'A', predLabel: expect.any(Number) });
    expect(Math.abs(verdict.predScore - expected) / expected).toBeLessThanOrEqual(1e-6);
    const direct = await json(await fetch(`${base}/v1/predict`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } }));
    expect(direct.predScore).toBe(verdict.predScore);
    const [reference] = await detector.predictBatch([png]);
    expect(Math.abs(verdict.predScore - (reference?.predScore as number)) / verdict.predScore).toBeLessThanOrEqual(1e-6);
  });

  it('GET /stations lists the last verdict per station; a good part is normal', async () => {
    await frame('B', readFileSync(join(data.normalDir, '000.png')));
    const stations = await json(await fetch(`${base}/stations`));
    expect(stations.map((s: { station: string }) => s.station).sort()).toEqual(['A', 'B']);
    const b = stations.find((s: { station: string }) => s.station === 'B');
    expect(b.predScore).toBeLessThan(expected / 5);
    expect(b.predLabel).toBe(0);
  });

  it('a bad frame gets the service’s error answer, and the service goes on', async () => {
    const bad = await frame('C', 'definitely not a png');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('E_IMAGE_DECODE');
    expect((await frame('C', readFileSync(join(data.abnormalDir, '002.png')))).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
