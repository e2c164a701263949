/**
 * The BullMQ sandboxed processor of {@link createScoringWorker}: runs in the worker's threads, so
 * decoding and the backbone never stall the lock renewal in the worker's own event loop. One file for
 * both job kinds: `score` (the Detector, loaded once per thread) and `fit-shard` (a shard's features
 * into PCA statistics, stored in Redis). Its settings come from the environment variable
 * `DFM_QUEUE_WORKER` (JSON) that createScoringWorker gives the threads.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import { type Detector, loadDetector, pixelScaling, renderHeatmap } from '@dfm/core';
import { decodeImagePixels, type Sample } from '@dfm/data';
import { DfmError, isDfmError } from '@dfm/errors';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import type { SandboxedJob } from 'bullmq';
import { Redis } from 'ioredis';
import { putBlob } from './blob';
import { connectionOptions, type RedisConnection } from './connection';
import { type FitShardJobData, type FitShardResult, type ScoreJobData, type ScoreResult, sha256Hex, workerName } from './jobs';
import { writeNewFile } from './write-new-file';

/** What createScoringWorker passes to its threads. */
export interface ProcessorSettings {
  connection: RedisConnection;
  model: string | null;
  threads: number;
  /** Jobs at once in this process (the threads share libvips' pool). */
  concurrency: number;
  runtime?: string;
  weights?: string;
  pixelLimit?: number;
  maxDownloadBytes: number;
  fetchTimeoutMs: number;
}

const settings = JSON.parse(process.env.DFM_QUEUE_WORKER ?? 'null') as ProcessorSettings | null;
let detector: Promise<{ detector: Detector; id: string }> | null = null;
let redis: Redis | null = null;
let backend: Promise<unknown> | null = null;

function loaded(): Promise<{ detector: Detector; id: string }> {
  if (settings === null) throw new DfmError('dfm queue processor: DFM_QUEUE_WORKER is not set. Start workers with createScoringWorker() or dfm worker.', { code: 'E_INTERNAL' });
  const model = settings.model;
  if (model === null) {
    throw new DfmError('dfm queue processor: this worker was started without a model, so it cannot score. Start it with --model M (createScoringWorker({ model })).', {
      code: 'E_INVALID_ARGUMENT',
    });
  }
  detector ??= (async () => {
    // libvips' decode threads (one pool per process): as many as the process's share of cores (its default is every core, which
    // two workers on two cores would oversubscribe).
    (await import('sharp')).default.concurrency(settings.threads * settings.concurrency);
    const bytes = await readFile(model);
    const d = await loadDetector(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      threads: settings.threads,
      ...(settings.runtime === undefined ? {} : { runtime: settings.runtime as never }),
      ...(settings.weights === undefined ? {} : { weights: settings.weights }),
      ...(settings.pixelLimit === undefined ? {} : { pixelLimit: settings.pixelLimit }),
    });
    return { detector: d, id: `${basename(model)}@${sha256Hex(bytes).slice(0, 12)}` };
  })();
  return detector;
}

async function imageBytes(data: ScoreJobData): Promise<Uint8Array> {
  const { input } = data;
  if (input.kind === 'bytes') return Buffer.from(input.base64, 'base64');
  if (input.kind === 'path') {
    try {
      return await readFile(input.path);
    } catch (error) {
      throw new DfmError(`cannot read ${input.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Put the images on storage every worker sees, at the same path.`, {
        code: 'E_FILE_NOT_READABLE',
      });
    }
  }
  const response = await fetch(input.url, { signal: AbortSignal.timeout(settings!.fetchTimeoutMs) }).catch((error: Error) => {
    throw new DfmError(`cannot fetch ${input.url}: ${error.message}.`, { code: 'E_DOWNLOAD_FAILED' });
  });
  if (!response.ok) throw new DfmError(`cannot fetch ${input.url}: HTTP ${response.status}.`, { code: 'E_DOWNLOAD_FAILED' });
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > settings!.maxDownloadBytes) throw new DfmError(`${input.url} is ${length} bytes — the workers' limit is ${settings!.maxDownloadBytes}.`, { code: 'E_PAYLOAD_TOO_LARGE' });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > settings!.maxDownloadBytes) throw new DfmError(`${input.url} is ${bytes.length} bytes — the workers' limit is ${settings!.maxDownloadBytes}.`, { code: 'E_PAYLOAD_TOO_LARGE' });
  return bytes;
}

async function score(job: SandboxedJob<ScoreJobData>): Promise<ScoreResult> {
  const started = performance.now();
  const { detector: d, id: model } = await loaded();
  const bytes = await imageBytes(job.data);
  const wantHeatmap = job.data.heatmapDir !== undefined;
  const result = await d.predict(bytes, { map: wantHeatmap });
  let heatmap: string | null = null;
  if (wantHeatmap && result.anomalyMap !== undefined) {
    const sharp = (await import('sharp')).default;
    const pixels = await decodeImagePixels(bytes);
    const post = d.info.postProcessing;
    const scaling = post === null ? null : pixelScaling(post);
    const half = scaling === null ? 0 : Math.max(scaling.max - scaling.min, Number.MIN_VALUE) / 2;
    const image = renderHeatmap(result.anomalyMap, { data: pixels.data as Uint8Array, width: pixels.width, height: pixels.height, channels: 3 }, scaling === null ? {} : { range: [scaling.threshold - half, scaling.threshold + half] });
    const png = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 4 } }).png().toBuffer();
    mkdirSync(job.data.heatmapDir!, { recursive: true });
    heatmap = join(job.data.heatmapDir!, `${job.id}.png`);
    // A retried job writes the same picture: the first one stays (never replaced).
    await writeNewFile(heatmap, png);
  }
  return {
    id: job.id as string,
    name: job.data.name,
    predScore: result.predScore,
    normalizedScore: result.normalizedScore,
    predLabel: result.predLabel,
    heatmap,
    model,
    worker: workerName(),
    seconds: (performance.now() - started) / 1000,
  };
}

async function fitShard(job: SandboxedJob<FitShardJobData>): Promise<FitShardResult> {
  const started = performance.now();
  const data = job.data;
  // The thread's tfjs backend (the pooling and the statistics' products): DFM_BACKEND or the best one here, as the CLI picks it.
  backend ??= setBackend();
  await backend;
  const model = new Dfm({
    backbone: data.model.backbone as never,
    layer: data.model.layer as never,
    preTrained: data.model.preTrained,
    seed: data.model.seed,
    poolingKernelSize: data.model.poolingKernelSize,
    pcaLevel: data.model.pcaLevel,
    scoreType: data.model.scoreType as never,
    ...(data.model.weights === undefined ? {} : { weights: data.model.weights }),
    ...(data.model.runtime === undefined ? {} : { runtime: data.model.runtime as never }),
    preProcessor: PreProcessor.fromPreProcessing(data.preProcessing),
    postProcessor: false,
    evaluator: false,
    visualizer: false,
  });
  try {
    const engine = new Engine({ batchSize: data.batchSize, checkpoint: false, onBadImage: data.onBadImage });
    const samples: Sample[] = data.paths.map((path) => ({ path, label: 0, defectType: 'good', maskPath: null }));
    const collected = await engine.collectStatistics(model, samples);
    const bytes = collected.statistics.toBytes();
    redis ??= new Redis(connectionOptions(settings!.connection, 'dfm queue processor') as never);
    await putBlob(redis, data.blobKey, bytes, { maxBytes: data.maxBlobBytes, ttlSeconds: data.ttlSeconds });
    return {
      shard: data.shard,
      blobKey: data.blobKey,
      bytes: bytes.length,
      nSamples: collected.statistics.nSamples,
      featureShape: [...collected.featureShape] as [number, number, number],
      imageSize: collected.imageSize,
      skipped: collected.skipped,
      worker: workerName(),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}

/** BullMQ calls this for every job; errors carry their code in the message (`[E_…] …`), which becomes the job's failedReason. */
export default async function processJob(job: SandboxedJob): Promise<ScoreResult | FitShardResult> {
  try {
    if (job.name === 'score') return await score(job as SandboxedJob<ScoreJobData>);
    if (job.name === 'fit-shard') return await fitShard(job as SandboxedJob<FitShardJobData>);
    throw new DfmError(`dfm queue processor: unknown job name ${JSON.stringify(job.name)} — expected 'score' or 'fit-shard'. Submit with ScoringClient or fitDistributed().`, { code: 'E_INVALID_ARGUMENT' });
  } catch (error) {
    const code = isDfmError(error) ? error.code : 'E_INTERNAL';
    throw new Error(`[${code}] ${(error as Error).message}`);
  }
}
