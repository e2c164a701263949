/**
 * The floor of the pipeline's fit + test wall time, computed from the parts measured in the same
 * bench run: the backbone alone at its best (it keeps every core busy), decoding's CPU time spread
 * over every core, and the PCA fit and scoring as the pipeline measured them. A CPU-bound
 * pipeline cannot beat the sum, however well decoding is overlapped with the backbone; so when the
 * floor is above a target ratio to PyTorch, no scheduling change reaches it: only cheaper parts do.
 */
import type { BenchRuntime } from './runtimes';

export interface FloorInput {
  runtime: BenchRuntime;
  /** Images through the pipeline (train + test). */
  images: number;
  /** The backbone alone, best ms per image of the run. */
  backboneBestMs: number;
  /** CPU seconds of decoding every image alone (`batches()` without a backbone, whole process). */
  decodeCpuSeconds: number;
  /** Cores the run has. */
  cores: number;
  /** PCA fit and scoring seconds, from the runtime's pipeline run. */
  fitSeconds: number;
  scoreSeconds: number;
  /** PyTorch's fit + test seconds; null when it did not run. */
  torchSeconds: number | null;
  /** The physical limit, ms per image; null when the FMA peak was not measured. */
  limitMs: number | null;
  /** Target ratio to PyTorch (the performance issue's: 0.5). */
  target: number;
}

export interface PipelineFloor {
  runtime: BenchRuntime;
  images: number;
  backboneSeconds: number;
  decodeSeconds: number;
  fitScoreSeconds: number;
  /** backboneSeconds + decodeSeconds + fitScoreSeconds. */
  totalSeconds: number;
  /** totalSeconds ÷ PyTorch's; null without PyTorch. */
  ratio: number | null;
  target: number;
  /** The backbone ms per image at which the floor equals `target` × PyTorch (≤ 0: unreachable even with a free backbone). */
  neededMsPerImage: number | null;
  /** neededMsPerImage ÷ the physical limit. */
  neededLimitMultiple: number | null;
  /** The floor with the backbone exactly at the physical limit. */
  atLimitSeconds: number | null;
}

/** See the module comment. Inputs are the bench's own measurements; each must be finite and non-negative. */
export function pipelineFloor(input: FloorInput): PipelineFloor {
  for (const [key, value] of Object.entries(input)) {
    if (key === 'runtime' || value === null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`pipelineFloor(): ${key} must be a finite number ≥ 0 — got ${String(value)}. It comes from the bench's own measurements.`);
    }
  }
  if (input.images < 1 || input.cores < 1) {
    throw new Error(`pipelineFloor(): images and cores must be ≥ 1 — got ${input.images} and ${input.cores}.`);
  }
  const backboneSeconds = (input.backboneBestMs * input.images) / 1000;
  const decodeSeconds = input.decodeCpuSeconds / input.cores;
  const fitScoreSeconds = input.fitSeconds + input.scoreSeconds;
  const totalSeconds = backboneSeconds + decodeSeconds + fitScoreSeconds;
  const torch = input.torchSeconds;
  const neededMsPerImage = torch === null ? null : ((input.target * torch - decodeSeconds - fitScoreSeconds) / input.images) * 1000;
  return {
    runtime: input.runtime,
    images: input.images,
    backboneSeconds,
    decodeSeconds,
    fitScoreSeconds,
    totalSeconds,
    ratio: torch === null || torch === 0 ? null : totalSeconds / torch,
    target: input.target,
    neededMsPerImage,
    neededLimitMultiple: neededMsPerImage === null || input.limitMs === null || input.limitMs === 0 ? null : neededMsPerImage / input.limitMs,
    atLimitSeconds: input.limitMs === null ? null : (input.limitMs * input.images) / 1000 + decodeSeconds + fitScoreSeconds,
  };
}
