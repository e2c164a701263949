import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { PreProcessing } from '@dfm/core';

/** What a scoring job scores: a file on storage the workers share, a URL they fetch, or the bytes themselves. */
export type ScoreInput = { kind: 'path'; path: string } | { kind: 'url'; url: string } | { kind: 'bytes'; base64: string };

/** The data of a `score` job. */
export interface ScoreJobData {
  input: ScoreInput;
  /** What the results call the image (its path, URL or given name). */
  name: string;
  /** Folder (shared storage) where the worker writes the heatmap PNG `<job id>.png`; omitted: no heatmap. */
  heatmapDir?: string;
}

/** One image's result, as a worker returns it and {@link ScoringClient} hands it over. */
export interface ScoreResult {
  /** The job id: derived from the image (see {@link scoreJobId}), so a resubmission is not scored again. */
  id: string;
  /** The image's path, URL or given name. */
  name: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
  /** The heatmap PNG written for it, or null. */
  heatmap: string | null;
  /** The model that scored it: `<file name>@<first 12 hex of its sha256>`. */
  model: string;
  /** Which worker scored it: `<host>/<pid>`. */
  worker: string;
  /** Seconds the worker spent on it (read, decode, backbone, score, heatmap). */
  seconds: number;
}

/** The data of a `fit-shard` job: extract one shard's features and store its PCA statistics. */
export interface FitShardJobData {
  fitId: string;
  shard: number;
  shards: number;
  /** Image paths on storage the workers share. */
  paths: string[];
  /** The model's options (backbone, layer, weights, pooling, PCA level, score type, runtime). */
  model: { backbone: string; layer: string; preTrained: boolean; seed: number; weights?: string; poolingKernelSize: number; pcaLevel: number; scoreType: string; runtime?: string };
  /** The pre-processing the coordinator's model records (size, kernel, normalisation). */
  preProcessing: PreProcessing;
  batchSize: number;
  onBadImage: 'error' | 'skip';
  /** Redis key (prefix) under which the worker stores the statistics' bytes. */
  blobKey: string;
  maxBlobBytes: number;
  ttlSeconds: number;
}

/** What a `fit-shard` job returns: where its statistics are, not the statistics (they can be ~100 MB). */
export interface FitShardResult {
  shard: number;
  blobKey: string;
  bytes: number;
  nSamples: number;
  featureShape: [number, number, number];
  imageSize: [number, number] | null;
  skipped: { path: string; reason: string }[];
  worker: string;
  seconds: number;
}

/** sha256 hex of bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A scoring job's id, from the image: its path or URL and the sha256 of its content (bytes: the content
 * alone). The same image submitted again gets the same id, which BullMQ does not add twice while the
 * first job is kept (completed jobs are kept `keepCompletedSeconds`), so it is not scored twice; a file
 * changed in place gets a new id. A heatmap folder is part of the id: asking for heatmaps (or for another folder) scores the image again.
 */
export function scoreJobId(
  input: { kind: 'path'; path: string; contentSha256: string } | { kind: 'url'; url: string } | { kind: 'bytes'; contentSha256: string },
  heatmapDir?: string,
): string {
  const key = input.kind === 'path' ? `path\0${input.path}\0${input.contentSha256}` : input.kind === 'url' ? `url\0${input.url}` : `bytes\0${input.contentSha256}`;
  return `img-${sha256Hex(heatmapDir === undefined ? key : `${key}\0heatmaps\0${heatmapDir}`).slice(0, 40)}`;
}

/** `<host>/<pid>` of this process. */
export function workerName(): string {
  return `${hostname()}/${process.pid}`;
}
