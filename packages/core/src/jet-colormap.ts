/**
 * The classic "jet" colour map (blue → cyan → yellow → red), piecewise linear: the colours of
 * every heatmap (the CLI's PNGs, the browser page), through {@link renderHeatmap}.
 *
 * @param value in [0, 1]; clamped, NaN gives the low end.
 * @returns RGB, 0–255 per channel.
 * @example
 * jetColormap(0); // [0, 0, 128]; jetColormap(1) // [128, 0, 0]
 */
export function jetColormap(value: number): [number, number, number] {
  const v = value > 0 ? Math.min(value, 1) : 0;
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - centre))));
  return [channel(3), channel(2), channel(1)];
}
