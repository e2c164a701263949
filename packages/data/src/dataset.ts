import type { Sample } from './sample';
import type { SplitInfo } from './splits';

/** What {@link MVTecAD} and {@link Folder} have in common; the Engine codes against this. */
export interface AnomalyDataset {
  readonly name: 'mvtec' | 'folder';
  readonly category: string;
  /** Normal images to fit on. Never empty. */
  readonly train: Sample[];
  readonly test: Sample[];
  /** Images thresholds are fitted on; see `splitInfo.thresholdSplit`. */
  readonly val: Sample[];
  /** True when every anomalous test/val image has a mask (file or synthetic): pixel metrics are possible. */
  readonly hasMasks: boolean;
  /** Why pixel metrics are absent (null when `hasMasks`). */
  readonly pixelMetricsReason: string | null;
  readonly splitInfo: SplitInfo;
  /** Files found in the dataset folders that are not images (by extension) and were left out. */
  readonly ignoredFiles: string[];
}

/** `hasMasks` / `pixelMetricsReason` from the samples that will be evaluated. */
export function maskStatus(
  samples: readonly Sample[],
  reasonWithoutMasks: string,
): { hasMasks: boolean; pixelMetricsReason: string | null } {
  const anomalous = samples.filter((s) => s.label === 1);
  const missing = anomalous.filter((s) => s.maskPath === null && s.synthetic === undefined);
  if (missing.length === 0) return { hasMasks: true, pixelMetricsReason: null };
  return { hasMasks: false, pixelMetricsReason: reasonWithoutMasks };
}
