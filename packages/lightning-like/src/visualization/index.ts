export { jetColormap } from './jet-colormap';
export { maskContour } from './mask-contour';
export { type HeatmapOverlayOptions, renderHeatmapOverlay } from './render-heatmap-overlay';
export { type RocCurvePlotOptions, renderRocCurve } from './render-roc-curve';
export { renderScoreHistogram, type ScoreHistogramOptions } from './render-score-histogram';
