import type { Dfm } from '@dfm/lightning-like';
import { seconds } from './io';

/** `timing` fields of the last fit's PCA (`--json`), or none when the model was loaded instead of fitted. */
export function pcaTimingFields(model: Dfm): { pca_accumulate_s?: number; pca_solve_s?: number; pca_products?: string } {
  const timing = model.pcaTiming;
  if (timing === null) return {};
  return { pca_accumulate_s: seconds(timing.accumulateSeconds), pca_solve_s: seconds(timing.solveSeconds), pca_products: timing.products };
}

/** The same as one line of text, or '' when there was no fit. */
export function pcaTimingLine(model: Dfm): string {
  const timing = model.pcaTiming;
  if (timing === null) return '';
  return `PCA: ${timing.accumulateSeconds.toFixed(1)} s accumulating + ${timing.solveSeconds.toFixed(1)} s solving, on ${timing.products}\n`;
}
