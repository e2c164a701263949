import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Detector, type DetectorInput, type DetectorResult, type LoadDetectorOptions, loadDetector, pixelScaling, type RawPixels, renderHeatmap } from '@dfm/core';
import { resizeBilinearAntialiased } from '@dfm/data/pixels';
import { DEFAULT_PIXEL_LIMIT, type DecodedPixels, decodeImagePixels } from '@dfm/data';
import { DfmError, InvalidArgumentError, isDfmError } from '@dfm/errors';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { Batcher } from './batcher';
import { ServeMetrics } from './metrics';
import { VERSION } from './version';

/** Options of {@link createServer}. */
export interface ServeOptions {
  /** The model to serve: a `.dfm` path, a `dfm export` folder or an ONNX export folder (as `loadDetector` takes). */
  model?: string;
  /** Or a Detector you loaded (then `POST /v1/model/reload` and SIGHUP reload nothing: pass `model` for that). */
  detector?: Detector;
  /** Options for `loadDetector` (runtime, threads, weights, …) when `model` is given. */
  loadOptions?: LoadDetectorOptions;
  /** Bearer token required on every route but the probes and the page's static files (default: none; `DFM_SERVE_TOKEN` in the CLI). */
  token?: string;
  /** Address to listen on (default `127.0.0.1`: loopback only; `0.0.0.0` to accept other hosts). */
  host?: string;
  /** Port (default 8080; 0 = any free port). */
  port?: number;
  /** Images scored together at most (default 16; 1 = no batching). */
  maxBatchSize?: number;
  /** How long a batch may wait for images still being decoded, in ms (default 25; a batch with nothing on its way starts at once). */
  maxWaitMs?: number;
  /** Images allowed to wait for a batch; beyond it requests get 503 with Retry-After (default 64). */
  maxQueue?: number;
  /** Time a request may take, upload to answer, in ms (default 30,000); a request still waiting for the model then gets 503. */
  requestTimeoutMs?: number;
  /** Largest upload in bytes (default 32 MiB); larger bodies get 413. */
  maxUploadBytes?: number;
  /** Images per `/v1/predict/batch` request at most (default 32). */
  maxBatchFiles?: number;
  /**
   * On close, how long requests in flight may take to be answered and read, in ms (default 10,000);
   * then every connection is closed (a client that never reads its answer cannot hold a drain open).
   */
  drainTimeoutMs?: number;
  /** Largest image in pixels (default @dfm/data's 178,956,970), checked from the header before decoding. */
  pixelLimit?: number;
  /**
   * Logging: `true` (default) pino JSON lines on stdout (pretty when stdout is a TTY), `false` none,
   * or a pino options object / instance as fastify takes it.
   */
  logger?: boolean | Record<string, unknown>;
}

/** What `GET /v1/model` answers. */
export interface ModelSummary {
  /** `<file name>@<first 12 hex of the model file's sha256>`. */
  id: string;
  name: string;
  config: Detector['info']['config'];
  preProcessing: Detector['info']['preProcessing'];
  postProcessing: Detector['info']['postProcessing'];
  imageSize: Detector['info']['imageSize'];
  backbone: Detector['info']['backbone'];
  runtime: string;
  runtimeDetail: string;
  /** The version that wrote the model file. */
  packageVersion: string;
  /** When this model started serving (ISO 8601). */
  loadedAt: string;
}

/** The service's controls, on `app.dfm`. */
export interface DfmServeControls {
  /** The model serving now. */
  readonly model: ModelSummary;
  /** True once the model is loaded and warmed up, until the service starts closing. */
  readonly ready: boolean;
  /** Requests received and not yet answered. */
  readonly inFlight: number;
  /** Listens on the configured host and port; resolves to the base URL (`http://127.0.0.1:8080`). */
  listen(): Promise<string>;
  /**
   * Loads `source` (default: the `model` the service started with, read again), warms it up, then
   * swaps it in; the old model finishes its batch and is freed. On failure the old model keeps serving.
   */
  reload(source?: string): Promise<ModelSummary>;
  readonly metrics: ServeMetrics;
}

/** The fastify instance `createServer` returns, with the service's controls on `dfm`. */
export type DfmServer = FastifyInstance & { dfm: DfmServeControls };

/** Upload content types scored (others: 415). `application/octet-stream`: the bytes are sniffed. */
export const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/bmp', 'image/tiff', 'image/gif', 'application/octet-stream'] as const;

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxBatchSize: 16,
  maxWaitMs: 25,
  maxQueue: 64,
  requestTimeoutMs: 30_000,
  maxUploadBytes: 32 * 1024 * 1024,
  maxBatchFiles: 32,
  drainTimeoutMs: 10_000,
};

/** An HTTP error with a stable code (answered as `{ error: { code, message } }`). */
class HttpError extends DfmError {
  constructor(
    readonly statusCode: number,
    message: string,
    code: `E_${Uppercase<string>}`,
  ) {
    super(message, { code });
  }
}

/** HTTP status of an error code (unknown codes: 500). */
const STATUS: Record<string, number> = {
  E_INVALID_ARGUMENT: 400,
  E_IMAGE_DECODE: 400,
  E_EMPTY_BODY: 400,
  E_SHAPE_MISMATCH: 400,
  E_IMAGE_SIZE_MISMATCH: 400,
  E_UNAUTHORIZED: 401,
  E_NOT_FOUND: 404,
  E_PAYLOAD_TOO_LARGE: 413,
  E_IMAGE_TOO_LARGE: 413,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_CORRUPT_FILE: 422,
  E_FILE_NOT_READABLE: 422,
  E_INCOMPATIBLE_MODEL: 422,
  E_WEIGHTS_MISMATCH: 422,
  E_OVERLOADED: 503,
  E_TIMEOUT: 503,
  E_DISPOSED: 503,
  E_UNAVAILABLE: 503,
};

/** fastify's and @fastify/multipart's own error codes, as ours. */
function fromFastify(error: { code?: string; statusCode?: number; message: string }, limits: { maxUploadBytes: number; maxBatchFiles: number }): HttpError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return new HttpError(413, `the upload must be at most ${limits.maxUploadBytes} bytes (the service's maxUploadBytes). Send a smaller image.`, 'E_PAYLOAD_TOO_LARGE');
    case 'FST_FILES_LIMIT':
      return new HttpError(413, `a batch may hold at most ${limits.maxBatchFiles} images (maxBatchFiles). Split it.`, 'E_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new HttpError(415, `send the image as the raw body with Content-Type ${ACCEPTED_TYPES.join(', ')}, or multipart/form-data with a field "image". Got ${error.message.replace(/^.*?: /, '')}`, 'E_UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, `the request body is invalid: ${error.message}`, 'E_INVALID_ARGUMENT');
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? new HttpError(error.statusCode, error.message, 'E_INVALID_ARGUMENT') : undefined;
  }
}

/** The built page: dist/ui/ beside the built module, or (running from sources) the package's dist/ui/. */
function uiDir(): string | undefined {
  const candidates = [new URL('./ui/', import.meta.url), new URL('../dist/ui/', import.meta.url)].map((url) => fileURLToPath(url));
  return candidates.find((dir) => existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'app.js')));
}

const UI_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A model's id: its file name and the first 12 hex of the sha256 of its file (a folder: of its manifest or metadata). */
function modelId(source: string | undefined): { id: string; name: string } {
  if (source === undefined) return { id: 'detector', name: 'detector' };
  try {
    let file = source;
    if (statSync(source).isDirectory()) file = [join(source, 'manifest.json'), join(source, 'metadata.json')].find(existsSync) ?? source;
    const name = basename(source.replace(/[\\/]+$/, ''));
    return { id: `${name}@${sha256Of(readFileSync(file)).slice(0, 12)}`, name };
  } catch {
    return { id: basename(source), name: basename(source) };
  }
}

function summary(detector: Detector, id: { id: string; name: string }, loadedAt: Date): ModelSummary {
  const { info } = detector;
  return {
    id: id.id,
    name: id.name,
    config: info.config,
    preProcessing: info.preProcessing,
    postProcessing: info.postProcessing,
    imageSize: info.imageSize,
    backbone: info.backbone,
    runtime: info.runtime,
    runtimeDetail: info.runtimeDetail,
    packageVersion: info.packageVersion,
    loadedAt: loadedAt.toISOString(),
  };
}

/**
 * Scores mid-grey images once alone and once as a full batch, so that neither the first request nor
 * the first burst pays for compilation and buffers (onnxruntime's memory arena grows to the largest
 * batch it has run and keeps that size: sized here, at start, it is the steady state).
 */
async function warmUp(detector: Detector, batchSize: number): Promise<void> {
  const [height, width] = detector.info.preProcessing.imageSize ?? detector.info.imageSize ?? [64, 64];
  const grey = { data: new Uint8Array(height * width * 3).fill(128), width, height, channels: 3 as const };
  await detector.predict(grey);
  if (batchSize > 1) await detector.predictBatch(Array.from({ length: batchSize }, () => grey), { batchSize });
}

/** A heatmap PNG: the map over the image as the model saw it (resized), jet colours; drawn on the pixel-threshold scale when the model has one. */
async function heatmapPng(result: DetectorResult, pixels: DetectorInput, detector: Detector): Promise<{ mediaType: 'image/png'; width: number; height: number; base64: string } | undefined> {
  const map = result.anomalyMap;
  if (map === undefined) return undefined;
  const post = detector.info.postProcessing;
  const scaling = post === null ? null : pixelScaling(post);
  const half = scaling === null ? 0 : Math.max(scaling.max - scaling.min, Number.MIN_VALUE) / 2;
  const image = renderHeatmap(map, pixels as RawPixels, scaling === null ? {} : { range: [scaling.threshold - half, scaling.threshold + half] });
  const png = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 4 } })
    .png({ compressionLevel: 3 })
    .toBuffer();
  return { mediaType: 'image/png', width: image.width, height: image.height, base64: png.toString('base64') };
}

/**
 * An inspection service for a fitted model (fastify): `POST /v1/predict` and `/v1/predict/batch`
 * scored through the Detector with dynamic batching, `GET /healthz`, `/readyz`, `/metrics`
 * (Prometheus), `/v1/model`, `POST /v1/model/reload`, and a web page at `/`. The model is loaded
 * and warmed up before this resolves. Close with `app.close()`: it stops accepting, answers the
 * requests in flight, then frees the model.
 *
 * @example
 * const app = await createServer({ model: 'bottle.dfm', token: process.env.DFM_SERVE_TOKEN });
 * const url = await app.dfm.listen();        // http://127.0.0.1:8080
 * // curl -H 'Content-Type: image/png' --data-binary @000.png http://127.0.0.1:8080/v1/predict
 */
export async function createServer(options: ServeOptions): Promise<DfmServer> {
  const where = 'createServer()';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be an object — got ${String(options)}.`);
  const settings = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<Omit<ServeOptions, 'model' | 'detector' | 'token' | 'loadOptions' | 'pixelLimit' | 'logger'>> & ServeOptions;
  if ((options.model === undefined) === (options.detector === undefined)) {
    throw new InvalidArgumentError(`${where}: pass exactly one of model (a path) and detector — got ${options.model === undefined ? 'neither' : 'both'}.`);
  }
  for (const name of ['maxBatchSize', 'maxQueue', 'maxUploadBytes', 'maxBatchFiles', 'requestTimeoutMs', 'drainTimeoutMs'] as const) {
    if (!Number.isSafeInteger(settings[name]) || settings[name] < 1) throw new InvalidArgumentError(`${where}: ${name} must be an integer ≥ 1 — got ${String(settings[name])}.`);
  }
  if (!Number.isSafeInteger(settings.maxWaitMs) || settings.maxWaitMs < 0) throw new InvalidArgumentError(`${where}: maxWaitMs must be an integer ≥ 0 — got ${String(settings.maxWaitMs)}.`);
  if (!Number.isSafeInteger(settings.port) || settings.port < 0 || settings.port > 65535) throw new InvalidArgumentError(`${where}: port must be 0–65535 — got ${String(settings.port)}.`);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 8)) {
    throw new InvalidArgumentError(`${where}: token must be a string of at least 8 characters — got ${typeof options.token === 'string' ? `${options.token.length} characters` : typeof options.token}. Use a long random string, e.g. openssl rand -hex 24.`);
  }
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const loadOptions: LoadDetectorOptions = { ...options.loadOptions, pixelLimit };

  // Each upload is decoded once: libvips' operation cache would only hold memory after a burst.
  sharp.cache(false);
  const metrics = new ServeMetrics();
  let detector = options.detector ?? (await loadDetector(options.model as string, loadOptions));
  let current: ModelSummary;
  const install = (next: Detector, source: string | undefined) => {
    current = summary(next, modelId(source), new Date());
    metrics.model.reset();
    metrics.model.set({ model_id: current.id, backbone: current.backbone.name, layer: current.backbone.layer, score_type: current.config.scoreType, runtime: current.runtime, version: VERSION }, 1);
  };
  try {
    await warmUp(detector, settings.maxBatchSize);
  } catch (error) {
    if (options.detector === undefined) await detector.close();
    throw error;
  }
  install(detector, options.model);
  let ready = true;
  let closing = false;
  /** Uploads being decoded: they count against maxQueue with the waiting ones (a burst is refused before it is decoded), and a batch waits for them. */
  let decoding = 0;
  const batcher = new Batcher(() => detector, {
    maxBatchSize: settings.maxBatchSize,
    maxWaitMs: settings.maxWaitMs,
    maxQueue: settings.maxQueue,
    incoming: () => decoding,
    onBatch: (size, seconds) => {
      metrics.batchSize.observe(size);
      metrics.batchSeconds.observe(seconds);
    },
    onQueue: (depth) => metrics.queueDepth.set(depth),
  });

  const logger =
    options.logger === false
      ? false
      : typeof options.logger === 'object'
        ? options.logger
        : process.stdout.isTTY
          ? { level: 'info', transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
          : { level: 'info' };
  const app = Fastify({
    logger,
    bodyLimit: settings.maxUploadBytes,
    requestTimeout: settings.requestTimeoutMs,
    // Keep-alive connections idle at close are closed; requests in flight are answered first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  }) as unknown as DfmServer;

  // Raw image bodies (and octet-stream, sniffed by the decoder) arrive as one Buffer.
  app.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer', bodyLimit: settings.maxUploadBytes }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: settings.maxUploadBytes }, (_request, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: settings.maxUploadBytes, files: settings.maxBatchFiles, fields: 8, parts: settings.maxBatchFiles + 8 } });

  // The token: every route but the probes and the page's static files (which hold no data).
  const token = options.token === undefined ? undefined : Buffer.from(options.token);
  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    (request as FastifyRequest & { startedAt: number }).startedAt = performance.now();
    metrics.inFlight.set(++inFlight);
    if (token === undefined) return;
    const path = request.url.split('?')[0] as string;
    if (path === '/healthz' || path === '/readyz' || path === '/' || path.startsWith('/ui/')) return;
    const given = Buffer.from(/^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '');
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      metrics.rejected.inc({ reason: 'unauthorized' });
      reply.header('www-authenticate', 'Bearer realm="dfm"');
      throw new HttpError(401, `this service needs a bearer token: send "Authorization: Bearer <token>" (the token dfm serve was started with, --token or DFM_SERVE_TOKEN)${given.length > 0 ? '; the one sent is not it' : ''}.`, 'E_UNAUTHORIZED');
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.inFlight.set(--inFlight);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, (performance.now() - (request as FastifyRequest & { startedAt: number }).startedAt) / 1000);
  });

  app.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
    let status: number;
    let code: string;
    let message = error.message;
    const mapped = error instanceof HttpError ? error : isDfmError(error) ? undefined : fromFastify(error, settings);
    if (mapped !== undefined) {
      [status, code, message] = [mapped.statusCode, mapped.code, mapped.message];
    } else if (isDfmError(error)) {
      code = error.code;
      status = STATUS[code] ?? 500;
    } else {
      [status, code] = [500, 'E_INTERNAL'];
    }
    if (status === 503) reply.header('retry-after', '1');
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code, status }, message);
    return reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}. The API: POST /v1/predict, POST /v1/predict/batch, GET /v1/model, POST /v1/model/reload, GET /healthz, /readyz, /metrics, and the page at /.` } }),
  );

  /** Decodes one upload off the event loop (sharp), checking the pixel limit from the header first. */
  const decode = async (bytes: Buffer, what: string): Promise<DecodedPixels> => {
    if (bytes.length === 0) throw new HttpError(400, `${what} is empty: send the image's bytes as the body.`, 'E_EMPTY_BODY');
    try {
      return await decodeImagePixels(bytes, { pixelLimit });
    } catch (error) {
      if (isDfmError(error)) {
        metrics.rejected.inc({ reason: 'bad_input' });
        // The decoder names its input "image <image bytes>": name the upload instead.
        const message = error.message.replace(/^[^:]*: /, '');
        const named = message.includes('image <image bytes>') ? message.replace('image <image bytes>', what) : `${what}: ${message}`;
        throw new HttpError(STATUS[error.code] ?? 400, named, error.code);
      }
      throw error;
    }
  };
  /** What the Detector scores: the decoded pixels, or the bytes for a model resizing with a sharp kernel (only sharp resizes those). */
  const sharpKernel = () => detector.info.preProcessing.imageSize !== null && detector.info.preProcessing.resizeKernel !== 'bilinear-antialiased';
  /**
   * The upload at the model's size, in [0, 1]: resized here, as each request arrives, with the
   * training resize (@dfm/data's antialiased bilinear), so that this work overlaps the batch running
   * in the backbone instead of preceding the next one. The Detector then finds the size it wants.
   */
  const resized = (pixels: DecodedPixels): RawPixels | DecodedPixels => {
    const size = detector.info.preProcessing.imageSize;
    if (size === null) return pixels;
    const [height, width] = size;
    const data = resizeBilinearAntialiased(pixels.data, pixels.height, pixels.width, 3, height, width, 1 / pixels.maxValue, undefined);
    return { data, width, height, channels: 3 };
  };
  const score = async (bytes: Buffer, what: string, heatmap: boolean, started: number) => {
    let batched: Awaited<ReturnType<Batcher['submit']>>;
    let pixels: DecodedPixels;
    let input: DetectorInput;
    try {
      if (batcher.depth + decoding >= settings.maxQueue) {
        throw new DfmError(`the service is at capacity: ${batcher.depth + decoding} images are waiting (maxQueue ${settings.maxQueue}). Retry shortly.`, { code: 'E_OVERLOADED' });
      }
      decoding++;
      try {
        pixels = await decode(bytes, what);
        input = sharpKernel() ? bytes : resized(pixels);
      } catch (error) {
        decoding--;
        batcher.poke();
        throw error;
      }
      // Queued while still counted as incoming, then no longer: the batcher sees it exactly once.
      const submitted = batcher.submit(input, heatmap, Math.max(1, settings.requestTimeoutMs - (performance.now() - started)));
      decoding--;
      batcher.poke();
      batched = await submitted;
    } catch (error) {
      if (isDfmError(error, 'E_OVERLOADED', 'E_TIMEOUT')) metrics.rejected.inc({ reason: error.code === 'E_OVERLOADED' ? 'overloaded' : 'timeout' });
      throw error;
    }
    const { result } = batched;
    metrics.imagesScored.inc({ label: result.predLabel === null ? 'none' : result.predLabel === 1 ? 'anomalous' : 'normal' });
    const body: Record<string, unknown> = { predScore: result.predScore, normalizedScore: result.normalizedScore, predLabel: result.predLabel };
    if (heatmap) {
      const png = await heatmapPng(result, input instanceof Uint8Array ? pixels : input, detector);
      if (png !== undefined) body.heatmap = png;
    }
    return { body, batched };
  };
  const wantsHeatmap = (request: FastifyRequest) => {
    const value = (request.query as Record<string, string | undefined>).heatmap;
    if (value === undefined) return false;
    if (value === 'png') return true;
    throw new HttpError(400, `heatmap must be "png" — got ${JSON.stringify(value)}. Use ?heatmap=png for a base64 PNG overlay.`, 'E_INVALID_ARGUMENT');
  };
  const notAccepting = () => {
    if (closing) throw new HttpError(503, 'the service is shutting down. Retry on another instance.', 'E_UNAVAILABLE');
  };

  app.get('/healthz', async () => ({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));
  app.get('/readyz', async (_request, reply) => (ready && !closing ? { status: 'ready', model: current.id } : reply.status(503).send({ status: closing ? 'closing' : 'loading' })));
  app.get('/metrics', async (_request, reply) => {
    metrics.queueDepth.set(batcher.depth);
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/v1/model', async () => current);

  /** Before an upload is even read: refuse it when the queue is full (a burst costs no memory beyond its headers). */
  const admit = async () => {
    if (batcher.depth + decoding >= settings.maxQueue) {
      metrics.rejected.inc({ reason: 'overloaded' });
      throw new DfmError(`the service is at capacity: ${batcher.depth + decoding} images are waiting (maxQueue ${settings.maxQueue}). Retry shortly.`, { code: 'E_OVERLOADED' });
    }
  };
  app.post('/v1/predict', { preParsing: admit }, async (request, reply) => {
    notAccepting();
    const started = (request as FastifyRequest & { startedAt: number }).startedAt;
    const heatmap = wantsHeatmap(request);
    let bytes: Buffer;
    if (request.isMultipart()) {
      const file = await request.file();
      if (file === undefined) throw new HttpError(400, 'the multipart body has no file: send the image in a field named "image".', 'E_EMPTY_BODY');
      bytes = await file.toBuffer();
    } else if (Buffer.isBuffer(request.body)) {
      bytes = request.body;
    } else {
      throw new HttpError(
        request.body === undefined ? 400 : 415,
        request.body === undefined
          ? `the request has no body: send the image as the raw body with Content-Type ${ACCEPTED_TYPES.join(', ')}, or multipart/form-data with a field "image".`
          : `send the image as the raw body with Content-Type ${ACCEPTED_TYPES.join(', ')}, or multipart/form-data with a field "image" — got Content-Type ${request.headers['content-type']}.`,
        request.body === undefined ? 'E_EMPTY_BODY' : 'E_UNSUPPORTED_MEDIA_TYPE',
      );
    }
    const { body, batched } = await score(bytes, 'the upload', heatmap, started);
    return reply.send({
      ...body,
      timing: { queueMs: round(batched.queueMs), scoreMs: round(batched.scoreMs), batchSize: batched.batchSize, totalMs: round(performance.now() - started) },
      model: { id: current.id },
    });
  });

  app.post('/v1/predict/batch', { preParsing: admit }, async (request, reply) => {
    notAccepting();
    const started = (request as FastifyRequest & { startedAt: number }).startedAt;
    const heatmap = wantsHeatmap(request);
    if (!request.isMultipart()) {
      throw new HttpError(415, `send the images as multipart/form-data, one file per field (e.g. curl -F image=@a.png -F image=@b.png) — got Content-Type ${request.headers['content-type'] ?? 'none'}.`, 'E_UNSUPPORTED_MEDIA_TYPE');
    }
    const files: { name: string; bytes: Buffer }[] = [];
    for await (const part of request.files()) files.push({ name: part.filename || part.fieldname, bytes: await part.toBuffer() });
    if (files.length === 0) throw new HttpError(400, 'the multipart body holds no file: add one field per image.', 'E_EMPTY_BODY');
    // Each image goes through the batcher on its own: they share batches with each other and with other requests.
    const results = await Promise.all(
      files.map(async ({ name, bytes }, i) => {
        try {
          const { body } = await score(bytes, `image ${i} (${name})`, heatmap, started);
          return { name, ...body };
        } catch (error) {
          if (isDfmError(error, 'E_OVERLOADED', 'E_TIMEOUT')) throw error;
          if (!isDfmError(error)) throw error;
          return { name, error: { code: error.code, message: error.message } };
        }
      }),
    );
    return reply.send({ results, timing: { totalMs: round(performance.now() - started) }, model: { id: current.id } });
  });

  /** One reload at a time. */
  let reloading: Promise<ModelSummary> | undefined;
  const reload = (source?: string): Promise<ModelSummary> => {
    const target = source ?? options.model;
    if (target === undefined) {
      return Promise.reject(new HttpError(400, 'this service was started with a Detector object, not a model path: nothing to reload. Start it with { model: path }.', 'E_INVALID_ARGUMENT'));
    }
    reloading ??= (async () => {
      let next: Detector | undefined;
      try {
        next = await loadDetector(target, loadOptions);
        await warmUp(next, settings.maxBatchSize);
      } catch (error) {
        await next?.close();
        metrics.reloads.inc({ result: 'failed' });
        app.log.error({ err: error, model: target }, 'reload failed: the old model keeps serving');
        throw error;
      }
      const old = detector;
      detector = next;
      install(next, target);
      metrics.reloads.inc({ result: 'ok' });
      app.log.info({ model: current.id }, 'model reloaded');
      // The old model finishes the batch it runs, then is freed.
      if (old !== options.detector) void old.close();
      return current;
    })().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };
  app.post('/v1/model/reload', async () => ({ reloaded: true, model: await reload() }));

  // The page.
  const ui = uiDir();
  const sendUi = async (file: string, reply: FastifyReply) => {
    if (ui === undefined) {
      return reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: 'the web page is not built: run pnpm --filter @dfm/serve build (the package ships dist/ui/).' } });
    }
    const path = join(ui, file);
    if (!/^[\w.-]+$/.test(file) || !existsSync(path)) return reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: `no file /ui/${file}` } });
    const extension = file.slice(file.lastIndexOf('.'));
    return reply.header('content-type', UI_TYPES[extension] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(readFileSync(path));
  };
  app.get('/', async (_request, reply) => sendUi('index.html', reply));
  app.get('/ui/:file', async (request, reply) => sendUi((request.params as { file: string }).file, reply));

  // Closing: refuse new work, answer what is in flight (asking clients to drop the connection, so
  // that no keep-alive connection holds the close open), then free the model.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  let drainDeadline: ReturnType<typeof setTimeout> | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    ready = false;
    drainDeadline = setTimeout(() => {
      app.log.warn(`drain: connections still open after ${settings.drainTimeoutMs} ms; closing them`);
      app.server.closeAllConnections();
    }, settings.drainTimeoutMs);
    drainDeadline.unref();
  });
  app.addHook('onClose', async () => {
    clearTimeout(drainDeadline);
    // Every request has been answered by now: no keep-alive connection may hold the process open
    // for the keep-alive timeout (72 s).
    app.server.closeAllConnections();
    await batcher.idle();
    await reloading?.catch(() => undefined);
    if (detector !== options.detector) await detector.close();
  });

  app.decorate('dfm', {
    get model() {
      return current;
    },
    get ready() {
      return ready && !closing;
    },
    get inFlight() {
      return inFlight;
    },
    listen: () => app.listen({ host: settings.host, port: settings.port }),
    reload,
    metrics,
  } satisfies DfmServeControls);
  return app;
}

const round = (ms: number) => Math.round(ms * 10) / 10;
