/**
 * `@dfm/serve`: an HTTP inspection service for a fitted DFM model — fastify, dynamic batching,
 * probes, Prometheus metrics, reload, a bearer token, a web page. `dfm serve` runs it.
 *
 * @packageDocumentation
 */
export { type BatchedResult, Batcher, type BatcherOptions } from './batcher';
export { ServeMetrics } from './metrics';
export { ACCEPTED_TYPES, createServer, type DfmServeControls, type DfmServer, type ModelSummary, type ServeOptions } from './server';
export { VERSION } from './version';
