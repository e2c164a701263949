// The jet colour map lives in @dfm/core (one implementation: the Detector's renderHeatmap, the
// browser page and these PNGs); re-exported here so `@dfm/lightning-like`'s `jetColormap` keeps working.
export { jetColormap } from '@dfm/core';
