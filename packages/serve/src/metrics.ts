import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The service's Prometheus metrics, in a registry of its own (several services in one process never mix). */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'dfm_http_requests_total',
    help: 'HTTP requests answered, by route, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'dfm_http_request_duration_seconds',
    help: 'Time from receiving a request to answering it, by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'dfm_http_requests_in_flight',
    help: 'Requests received and not yet answered.',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'dfm_batch_size',
    help: 'Images per model call (dynamic batching).',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'dfm_batch_duration_seconds',
    help: 'Time one batch takes in the model (pre-processing, backbone, score).',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'dfm_queue_depth',
    help: 'Images waiting for a batch.',
    registers: [this.registry],
  });
  readonly imagesScored = new Counter({
    name: 'dfm_images_scored_total',
    help: 'Images scored, by predicted label (anomalous, normal, or none for a model without thresholds).',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'dfm_requests_rejected_total',
    help: 'Requests refused before scoring, by reason (overloaded, timeout, bad_input, unauthorized).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly model = new Gauge({
    name: 'dfm_model_info',
    help: 'The model being served (value 1): its id, backbone, layer, score type and the package version.',
    labelNames: ['model_id', 'backbone', 'layer', 'score_type', 'runtime', 'version'] as const,
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'dfm_model_reloads_total',
    help: 'Model reloads, by result (ok, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Process metrics (resident memory, CPU, event-loop lag, heap) with the usual names.
    collectDefaultMetrics({ register: this.registry });
  }
}
