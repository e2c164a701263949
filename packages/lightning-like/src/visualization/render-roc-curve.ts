import { drawPlotFrame } from './plot-frame';
import { RgbaCanvas, type TextLabel } from './rgba-canvas';
import { InvalidArgumentError } from '@dfm/errors';

/** Input of {@link renderRocCurve}, e.g. from `rocCurve()` and `auroc()`. */
export interface RocCurvePlotOptions {
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
  auroc: number;
  /** Title prefix, e.g. 'Image' or 'Pixel'. Default 'ROC'. */
  title?: string;
  /** Square image side in pixels. Default 400. */
  size?: number;
}

/**
 * A PNG of the ROC curve: the curve (blue, area shaded), the chance diagonal (dashed), axes with
 * ticks, and the AUROC in the title. Points closer than a pixel are merged, so pixel-level curves
 * with millions of points draw as fast as small ones.
 *
 * @example
 * const { fpr, tpr } = rocCurve(scores, labels);
 * await writeFile('roc.png', await renderRocCurve({ fpr, tpr, auroc: auroc(scores, labels) }));
 */
export async function renderRocCurve(options: RocCurvePlotOptions): Promise<Buffer> {
  const { fpr, tpr, auroc, title = 'ROC', size = 400 } = options;
  if (fpr.length !== tpr.length || fpr.length < 2) {
    throw new InvalidArgumentError(
      `renderRocCurve(): fpr and tpr must have the same length ≥ 2 — got ${fpr.length} and ${tpr.length}. ` +
        `Pass the arrays returned by rocCurve().`,
    );
  }
  const canvas = new RgbaCanvas(size, size);
  const labels: TextLabel[] = [];
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const frame = drawPlotFrame(
    canvas,
    {
      x: [0, 1],
      y: [0, 1],
      xTicks: ticks,
      yTicks: ticks,
      xTitle: 'False positive rate',
      yTitle: 'True positive rate',
      title: `${title} (AUROC = ${auroc.toFixed(4)})`,
    },
    labels,
  );
  canvas.line(frame.toX(0), frame.toY(0), frame.toX(1), frame.toY(1), [150, 150, 150], 1, 4);
  let lastX = Math.round(frame.toX(fpr[0]!));
  let lastY = Math.round(frame.toY(tpr[0]!));
  for (let i = 1; i < fpr.length; i++) {
    const x = Math.round(frame.toX(fpr[i]!));
    const y = Math.round(frame.toY(tpr[i]!));
    if (x === lastX && y === lastY) continue;
    for (let column = lastX; column < x; column++) {
      // Shade under the curve, one pixel column at a time.
      const top = lastY + ((y - lastY) * (column - lastX)) / (x - lastX);
      canvas.fillRect(column, top, column + 1, frame.bottom, [31, 119, 180], 0.15);
    }
    canvas.line(lastX, lastY, x, y, [31, 119, 180], 2);
    lastX = x;
    lastY = y;
  }
  return canvas.toPng(labels);
}
