import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Detector, isDfmError } from '@dfm/core';
import * as tf from '@tensorflow/tfjs-core';

/** Content types the server accepts (what the Detector decodes from memory in Node). */
export const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/tiff', 'image/gif'] as const;

/** Options of {@link createPredictServer}. */
export interface PredictServerOptions {
  /**
   * A fitted model, e.g. `await loadDetector('model.dfm', { pixelLimit: 40_000_000 })` (its thresholds
   * give labels; its `pixelLimit` refuses larger images, with 400).
   */
  detector: Detector;
  /** Largest request body in bytes (default 10 MiB); bigger uploads get 413. */
  maxBytes?: number;
  /** Time allowed per request, upload and scoring included, in ms (default 30 s); then 503. */
  timeoutMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new HttpError(413, `the image must be at most ${maxBytes} bytes — Content-Length says ${declared}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new HttpError(413, `the image must be at most ${maxBytes} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * An HTTP server that scores one uploaded image per request: `POST /predict` with the image bytes
 * as the body and its Content-Type (image/png, image/jpeg, image/webp, image/tiff, image/gif) →
 * `{ predScore, normalizedScore, predLabel }`. `GET /health` → the model's config. The
 * Detector decodes the bytes in memory and pre-processes them as at training, so the scores are
 * `dfm predict`'s; nothing from a request ever reaches the file system. Requests are scored one at a
 * time (this also bounds memory).
 */
export function createPredictServer(options: PredictServerOptions): Server {
  const { detector, maxBytes = 10 * 1024 * 1024, timeoutMs = 30_000 } = options;
  const { config, preProcessing, postProcessing } = detector.info;
  let queue: Promise<unknown> = Promise.resolve();

  const score = async (bytes: Buffer) => {
    try {
      const { predScore, normalizedScore, predLabel } = await detector.predict(bytes, { map: false });
      return { predScore, normalizedScore, predLabel };
    } catch (error) {
      // The upload's fault (not an image, too large): the Detector says so by the error's code.
      if (isDfmError(error, 'E_IMAGE_DECODE', 'E_IMAGE_TOO_LARGE', 'E_IMAGE_SIZE_MISMATCH')) {
        throw new HttpError(400, `the body is not a readable image (${error.message.split('\n')[0]})`);
      }
      throw error;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && req.method === 'GET') {
      send(res, 200, { ok: true, model: config, imageSize: preProcessing.imageSize, thresholds: postProcessing !== null, tensors: tf.memory().numTensors });
      return;
    }
    if (path !== '/predict') throw new HttpError(404, 'POST an image to /predict (or GET /health)');
    if (req.method !== 'POST') throw new HttpError(405, 'use POST with the image as the body');
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!(ACCEPTED_TYPES as readonly string[]).includes(type)) {
      throw new HttpError(415, `Content-Type must be one of ${ACCEPTED_TYPES.join(', ')} — got ${JSON.stringify(type || null)}`);
    }
    const body = await readBody(req, maxBytes);
    if (body.length === 0) throw new HttpError(400, 'the body is empty; send the image bytes');
    const run = queue.then(() => score(body));
    queue = run.catch(() => undefined);
    send(res, 200, await run);
  };

  const server = createServer((req, res) => {
    const timer = setTimeout(() => {
      send(res, 503, { error: `the request took longer than ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    handle(req, res)
      .catch((error: unknown) => {
        if (error instanceof HttpError) send(res, error.status, { error: error.message });
        else send(res, 500, { error: 'internal error' });
        if (!req.complete) req.resume(); // drain (or drop) the rest of a refused upload
      })
      .finally(() => clearTimeout(timer));
  });
  server.requestTimeout = timeoutMs;
  server.headersTimeout = Math.min(timeoutMs, 60_000);
  return server;
}
