/**
 * Worker-thread entry of the onnxruntime engine. onnxruntime-node's `session.run` is synchronous
 * on the calling thread (its promise wraps a blocking call), so run in the main thread it would
 * stall the event loop, and with it image decoding, for the whole inference. Here it blocks only
 * this thread: the main thread keeps decoding the next batches meanwhile. Inputs and outputs move
 * as transferred ArrayBuffers (no copy), and each input buffer goes back with its result, to be
 * filled again for a later batch. Built as its own entry (`dist/onnx-worker.js`).
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { OrtModule, OrtSession } from './load-onnxruntime';

export interface OnnxWorkerInit {
  /** Absolute path of the onnxruntime-node package to require (resolved by the main thread). */
  modulePath: string;
  model: Uint8Array;
  sessionOptions: Record<string, unknown>;
  inputName: string;
  outputNames: string[];
  /** The public function that started the worker, for messages. */
  caller: string;
}

export interface OnnxWorkerRequest {
  id: number;
  data: Float32Array;
  shape: number[];
}

export type OnnxWorkerReply =
  | { type: 'ready' }
  | { type: 'error'; id?: number; message: string }
  | {
      type: 'result';
      id: number;
      outputs: { name: string; data: Float32Array | Uint8Array; shape: number[] }[];
      /** The request's input buffer, handed back for reuse (no allocation per batch). */
      input: ArrayBuffer;
    };

async function start(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('onnx-worker: must run in a worker thread');
  const init = workerData as OnnxWorkerInit;
  let ort: OrtModule;
  let session: OrtSession;
  try {
    ort = createRequire(import.meta.url)(init.modulePath) as OrtModule;
    session = await ort.InferenceSession.create(init.model, init.sessionOptions);
    port.postMessage({ type: 'ready' } satisfies OnnxWorkerReply);
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message } satisfies OnnxWorkerReply);
    return;
  }
  port.on('message', async (request: OnnxWorkerRequest | 'release') => {
    if (request === 'release') {
      await session.release();
      port.close();
      return;
    }
    try {
      const input = new ort.Tensor('float32', request.data, request.shape);
      const results = await session.run({ [init.inputName]: input });
      const outputs = init.outputNames.map((name) => {
        const tensor = results[name] as { data: Float32Array | Uint8Array; dims: readonly number[] };
        return { name, data: tensor.data, shape: [...tensor.dims] };
      });
      const inputBuffer = request.data.buffer as ArrayBuffer;
      port.postMessage({ type: 'result', id: request.id, outputs, input: inputBuffer } satisfies OnnxWorkerReply, [
        ...outputs.map((o) => o.data.buffer as ArrayBuffer),
        inputBuffer,
      ]);
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: (error as Error).message } satisfies OnnxWorkerReply);
    }
  });
}

void start();
