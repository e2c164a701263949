/**
 * Worker-thread entry of the tfjs-wasm engine's data-parallel pool: one tfjs-core + wasm instance
 * per thread, the same folded weights, a share of each batch. Built as its own entry
 * (`dist/tfjs-worker.js`); started by {@link TfjsWorkerPool}. Imports tfjs and this package's
 * tfjs-only modules, nothing else, so it also runs from source (through tsx) in tests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { LayerName, NetworkPlan } from '../architectures';
import { ResNetGraph } from '../resnet';
import { runResnet } from '../run-resnet';

/** What the pool passes at start (`workerData`). */
export interface TfjsWorkerInit {
  plan: NetworkPlan;
  stages: number;
  layers: LayerName[];
  /** The state-dict tensors the plan needs, views into `buffer` by name. */
  tensors: Record<string, { offset: number; length: number }>;
  /** One copy of the weights shared by every worker (float32). */
  buffer: SharedArrayBuffer;
}

export interface TfjsWorkerRequest {
  id: number;
  data: Float32Array;
  shape: [number, number, number, number];
}

export type TfjsWorkerReply =
  | { type: 'ready'; detail: string }
  | { type: 'error'; id?: number; message: string }
  | { type: 'result'; id: number; outputs: { layer: LayerName; data: Float32Array; shape: number[] }[] };

async function start(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('tfjs-worker: must run in a worker thread');
  const init = workerData as TfjsWorkerInit;
  let graph: ResNetGraph;
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
    await tf.ready();
    const lookup = (name: string): Float32Array => {
      const view = init.tensors[name];
      if (view === undefined) throw new Error(`tensor ${name} was not passed to the worker`);
      return new Float32Array(init.buffer, view.offset, view.length);
    };
    graph = new ResNetGraph(init.plan, lookup);
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    port.postMessage({ type: 'ready', detail: `wasm ${simd ? 'SIMD' : 'no SIMD'}` } satisfies TfjsWorkerReply);
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message } satisfies TfjsWorkerReply);
    return;
  }
  port.on('message', async (request: TfjsWorkerRequest) => {
    try {
      const input = tf.tensor4d(request.data, request.shape);
      const outputs = runResnet(graph, input, init.stages, init.layers);
      input.dispose();
      const reply: { layer: LayerName; data: Float32Array; shape: number[] }[] = [];
      for (const layer of init.layers) {
        const tensor = outputs[layer];
        reply.push({ layer, data: (await tensor.data()) as Float32Array, shape: tensor.shape });
        tensor.dispose();
      }
      port.postMessage(
        { type: 'result', id: request.id, outputs: reply } satisfies TfjsWorkerReply,
        reply.map((r) => r.data.buffer as ArrayBuffer),
      );
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: (error as Error).message } satisfies TfjsWorkerReply);
    }
  });
}

void start();
