import { drawPlotFrame, niceTicks } from './plot-frame';
import { type Rgb, RgbaCanvas, type TextLabel } from './rgba-canvas';
import { InvalidArgumentError } from '@dfm/errors';

/** Input of {@link renderScoreHistogram}. */
export interface ScoreHistogramOptions {
  /** Scores of normal samples. */
  normalScores: ArrayLike<number>;
  /** Scores of anomalous samples. */
  anomalousScores: ArrayLike<number>;
  /** Decision threshold, on the same scale as the scores (drawn as a dashed line); omitted = no line. */
  threshold?: number;
  /** Number of bins over the common range. Default 40. */
  bins?: number;
  /** Image size in pixels. Default 600 × 400. */
  width?: number;
  height?: number;
  title?: string;
}

const NORMAL: Rgb = [31, 119, 180];
const ANOMALOUS: Rgb = [214, 39, 40];

/**
 * A PNG histogram of normal (blue) and anomalous (red) scores over shared bins, translucent so
 * overlaps show, with the threshold as a dashed vertical line and a legend.
 *
 * @throws InvalidArgumentError when there is no score at all, or a score or the threshold is not finite.
 * @example
 * await writeFile('scores.png', await renderScoreHistogram({ normalScores, anomalousScores, threshold: 0.5 }));
 */
export async function renderScoreHistogram(options: ScoreHistogramOptions): Promise<Buffer> {
  const { normalScores, anomalousScores, threshold, bins = 40, width = 600, height = 400 } = options;
  const all = [...Array.from(normalScores), ...Array.from(anomalousScores), ...(threshold === undefined ? [] : [threshold])];
  if (all.length === 1 || !all.every(Number.isFinite) || !(Number.isInteger(bins) && bins > 0)) {
    throw new InvalidArgumentError(
      `renderScoreHistogram(): finite scores (at least one), a finite threshold and a positive integer bin count ` +
        `were expected — got ${all.length - (threshold === undefined ? 0 : 1)} scores, threshold ${threshold}, ${bins} bins. Filter out NaN/∞ scores first.`,
    );
  }
  let min = Math.min(...all);
  let max = Math.max(...all);
  if (min === max) [min, max] = [min - 0.5, max + 0.5];
  const binWidth = (max - min) / bins;
  const count = (scores: ArrayLike<number>) => {
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < scores.length; i++) counts[Math.min(bins - 1, Math.floor((scores[i]! - min) / binWidth))]!++;
    return counts;
  };
  const normalCounts = count(normalScores);
  const anomalousCounts = count(anomalousScores);
  const peak = Math.max(1, ...normalCounts, ...anomalousCounts);

  const canvas = new RgbaCanvas(width, height);
  const labels: TextLabel[] = [];
  const yTicks = niceTicks(0, peak, 4);
  const frame = drawPlotFrame(
    canvas,
    {
      x: [min, max],
      y: [0, Math.max(peak, yTicks.at(-1) ?? peak)],
      xTicks: niceTicks(min, max, 6),
      yTicks,
      xTitle: 'Score',
      yTitle: 'Count',
      title: options.title ?? 'Score distribution',
    },
    labels,
  );
  for (const [counts, color] of [
    [normalCounts, NORMAL],
    [anomalousCounts, ANOMALOUS],
  ] as const) {
    counts.forEach((c, b) => {
      if (c > 0) canvas.fillRect(frame.toX(min + b * binWidth), frame.toY(c), frame.toX(min + (b + 1) * binWidth), frame.bottom, color, 0.5);
    });
  }
  if (threshold !== undefined) canvas.line(frame.toX(threshold), frame.top, frame.toX(threshold), frame.bottom, [0, 0, 0], 2, 6);
  const legendX = frame.right - 120;
  const legend = [
    [`normal (${normalScores.length})`, NORMAL],
    [`anomalous (${anomalousScores.length})`, ANOMALOUS],
    ...(threshold === undefined ? [] : [['threshold', [0, 0, 0]]]),
  ] as const;
  for (const [i, [name, color]] of (legend as readonly (readonly [string, readonly [number, number, number]])[]).entries()) {
    const y = frame.top + 8 + i * 18;
    canvas.fillRect(legendX, y - 5, legendX + 14, y + 5, color, i === 2 ? 1 : 0.5);
    labels.push({ text: name, x: legendX + 20, y: y + 4, size: 11, anchor: 'start' });
  }
  if (threshold !== undefined) {
    labels.push({ text: `threshold = ${Number(threshold.toPrecision(4))}`, x: frame.toX(threshold) + 4, y: frame.top + 10, size: 10, anchor: 'start' });
  }
  return canvas.toPng(labels);
}
