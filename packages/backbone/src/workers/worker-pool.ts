import type { Worker } from 'node:worker_threads';
import type { LayerName, NetworkPlan } from '../architectures';
import { nodeBuiltin } from '../node-builtin';
import { workerEntry, workerExecArgv } from './worker-entry';
import type { TfjsWorkerInit, TfjsWorkerReply, TfjsWorkerRequest } from './tfjs-worker';
import { DfmError } from '@dfm/errors';

/** How to start the tfjs worker thread (see {@link workerEntry}). */
export function tfjsWorkerEntry(base: string = import.meta.url): { source: URL | string; eval: boolean } {
  return workerEntry('tfjs-worker', base);
}

/** Number of workers `'auto'` starts: one per core. */
export function defaultWorkerCount(): number {
  return nodeBuiltin('os', 'defaultWorkerCount()').availableParallelism();
}

export interface TfjsWorkerPoolOptions {
  plan: NetworkPlan;
  stages: number;
  layers: readonly LayerName[];
  /** The state-dict tensors the plan needs (torchvision names, unfolded), copied once into shared memory. */
  tensors: ReadonlyMap<string, Float32Array>;
  size: number;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: Extract<TfjsWorkerReply, { type: 'result' }>) => void; reject: (e: Error) => void }>;
  failed: Error | undefined;
}

/**
 * Data-parallel tfjs-wasm feature extraction: `size` worker threads, each with its own wasm
 * instance and the same weights (one shared copy), each running a contiguous share of the batch.
 * Workers are unref'd, so an idle pool never keeps the process alive; `terminate()` stops them.
 */
export class TfjsWorkerPool {
  private nextId = 0;
  private terminated = false;

  private constructor(
    private readonly slots: Slot[],
    private readonly layers: readonly LayerName[],
    /** One line: how many workers, on what. */
    readonly detail: string,
  ) {}

  static async start(options: TfjsWorkerPoolOptions): Promise<TfjsWorkerPool> {
    const { plan, stages, layers, tensors, size } = options;
    let total = 0;
    for (const data of tensors.values()) total += data.length;
    const buffer = new SharedArrayBuffer(total * 4);
    const views: TfjsWorkerInit['tensors'] = {};
    let offset = 0;
    for (const [name, data] of tensors) {
      new Float32Array(buffer, offset * 4, data.length).set(data);
      views[name] = { offset: offset * 4, length: data.length };
      offset += data.length;
    }
    const init: TfjsWorkerInit = { plan, stages, layers: [...layers], tensors: views, buffer };
    const entry = tfjsWorkerEntry();
    const { Worker } = nodeBuiltin('worker_threads', 'TfjsWorkerPool.start()');
    const slots: Slot[] = [];
    const details: string[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const worker = new Worker(entry.source, {
          workerData: init,
          eval: entry.eval,
          execArgv: workerExecArgv(),
        });
        const slot: Slot = { worker, pending: new Map(), failed: undefined };
        slots.push(slot);
      }
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve, reject) => {
              const onReady = (message: TfjsWorkerReply) => {
                if (message.type === 'ready') {
                  details.push(message.detail);
                  resolve();
                } else if (message.type === 'error') {
                  reject(new DfmError(`TfjsWorkerPool.start(): a worker must load tfjs-wasm and the weights — ${message.message}.`, { code: 'E_RUNTIME' }));
                }
              };
              slot.worker.once('message', onReady);
              slot.worker.once('error', (error) =>
                reject(new DfmError(`TfjsWorkerPool.start(): a worker thread failed to start — ${error.message}.`, { cause: error, code: 'E_RUNTIME' })),
              );
            }),
        ),
      );
    } catch (error) {
      for (const slot of slots) void slot.worker.terminate();
      throw error;
    }
    for (const slot of slots) {
      slot.worker.on('message', (message: TfjsWorkerReply) => {
        if (message.type === 'result') {
          slot.pending.get(message.id)?.resolve(message);
          slot.pending.delete(message.id);
        } else if (message.type === 'error' && message.id !== undefined) {
          slot.pending.get(message.id)?.reject(new DfmError(`Backbone.extractAsync(): a tfjs worker failed — ${message.message}.`, { code: 'E_RUNTIME' }));
          slot.pending.delete(message.id);
        }
      });
      const fail = (error: Error) => {
        slot.failed = error;
        for (const { reject } of slot.pending.values()) reject(error);
        slot.pending.clear();
      };
      slot.worker.on('error', (error) => fail(new DfmError(`Backbone.extractAsync(): a tfjs worker crashed — ${error.message}.`, { cause: error, code: 'E_RUNTIME' })));
      slot.worker.on('exit', (code) => fail(new DfmError(`Backbone.extractAsync(): a tfjs worker exited (code ${code}).`, { code: 'E_RUNTIME' })));
      slot.worker.unref();
    }
    return new TfjsWorkerPool(slots, layers, `${size} worker thread${size === 1 ? '' : 's'} (${details[0] ?? 'wasm'}, 1 thread each)`);
  }

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Runs `[B, H, W, 3]` images (NHWC float32) split across the workers.
   *
   * @returns per layer the NHWC output data of the whole batch, in order
   */
  async run(
    data: Float32Array,
    shape: [number, number, number, number],
  ): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
    if (this.terminated) throw new DfmError('Backbone.extractAsync(): the worker pool was terminated — the backbone was disposed.', { code: 'E_DISPOSED' });
    const [batch, height, width, channels] = shape;
    const perImage = height * width * channels;
    const used = Math.min(batch, this.slots.length);
    const base = Math.floor(batch / used);
    const extra = batch % used;
    const parts: Promise<Extract<TfjsWorkerReply, { type: 'result' }>>[] = [];
    let start = 0;
    for (let i = 0; i < used; i++) {
      const count = base + (i < extra ? 1 : 0);
      const slot = this.slots[i] as Slot;
      if (slot.failed) throw slot.failed;
      const chunk = data.slice(start * perImage, (start + count) * perImage);
      const id = this.nextId++;
      parts.push(
        new Promise((resolve, reject) => {
          slot.pending.set(id, { resolve, reject });
          if (slot.pending.size === 1) slot.worker.ref();
          const request: TfjsWorkerRequest = { id, data: chunk, shape: [count, height, width, channels] };
          slot.worker.postMessage(request, [chunk.buffer as ArrayBuffer]);
        }).finally(() => {
          if (slot.pending.size === 0) slot.worker.unref();
        }) as Promise<Extract<TfjsWorkerReply, { type: 'result' }>>,
      );
      start += count;
    }
    const results = await Promise.all(parts);
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const layer of this.layers) {
      const pieces = results.map((r) => r.outputs.find((o) => o.layer === layer) as { data: Float32Array; shape: number[] });
      const length = pieces.reduce((sum, p) => sum + p.data.length, 0);
      const merged = pieces.length === 1 ? (pieces[0] as { data: Float32Array }).data : new Float32Array(length);
      if (pieces.length > 1) {
        let offset = 0;
        for (const p of pieces) {
          merged.set(p.data, offset);
          offset += p.data.length;
        }
      }
      out[layer] = { data: merged, shape: [batch, ...((pieces[0] as { shape: number[] }).shape.slice(1))] };
    }
    return out;
  }

  /** Stops every worker (pending runs reject). */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
