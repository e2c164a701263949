import type { RgbaCanvas, TextLabel } from './rgba-canvas';

/** Data ranges, ticks and titles of a 2-D plot. @internal */
export interface PlotFrameOptions {
  x: readonly [number, number];
  y: readonly [number, number];
  xTicks: readonly number[];
  yTicks: readonly number[];
  xTitle: string;
  yTitle: string;
  title: string;
}

/** Maps data coordinates to canvas pixels inside the plot area. @internal */
export interface PlotFrame {
  toX(value: number): number;
  toY(value: number): number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const MARGIN = { left: 60, right: 20, top: 36, bottom: 50 } as const;

/**
 * Draws light grid lines, axes and ticks on `canvas`, pushes tick labels and titles onto `labels`,
 * and returns the data→pixel mapping. @internal
 */
export function drawPlotFrame(canvas: RgbaCanvas, options: PlotFrameOptions, labels: TextLabel[]): PlotFrame {
  const left = MARGIN.left;
  const right = canvas.width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = canvas.height - MARGIN.bottom;
  const [x0, x1] = options.x;
  const [y0, y1] = options.y;
  const toX = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * (right - left);
  const toY = (v: number) => bottom - ((v - y0) / (y1 - y0 || 1)) * (bottom - top);
  for (const tick of options.xTicks) {
    canvas.line(toX(tick), top, toX(tick), bottom, [232, 232, 232]);
    canvas.line(toX(tick), bottom, toX(tick), bottom + 4, [0, 0, 0]);
    labels.push({ text: formatTick(tick), x: toX(tick), y: bottom + 18, size: 11 });
  }
  for (const tick of options.yTicks) {
    canvas.line(left, toY(tick), right, toY(tick), [232, 232, 232]);
    canvas.line(left - 4, toY(tick), left, toY(tick), [0, 0, 0]);
    labels.push({ text: formatTick(tick), x: left - 8, y: toY(tick) + 4, size: 11, anchor: 'end' });
  }
  canvas.line(left, bottom, right, bottom, [0, 0, 0]);
  canvas.line(left, top, left, bottom, [0, 0, 0]);
  labels.push(
    { text: options.title, x: (left + right) / 2, y: 22, size: 14 },
    { text: options.xTitle, x: (left + right) / 2, y: canvas.height - 12, size: 12 },
    { text: options.yTitle, x: 16, y: (top + bottom) / 2, size: 12, vertical: true },
  );
  return { toX, toY, left, right, top, bottom };
}

/** Evenly spaced "nice" ticks (steps of 1, 2 or 5 × 10^k) covering [min, max]. @internal */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(1) : String(value);
}
