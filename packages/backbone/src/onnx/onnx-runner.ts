import type { Worker } from 'node:worker_threads';
import { nodeBuiltin } from '../node-builtin';
import { workerEntry, workerExecArgv } from '../workers/worker-entry';
import type { LoadedOnnxruntime, OrtSession } from './load-onnxruntime';
import type { OnnxWorkerInit, OnnxWorkerReply, OnnxWorkerRequest } from './onnx-worker';
import { DfmError, InvalidArgumentError } from '@dfm/errors';

/** Where onnxruntime runs: a worker thread (Node default: the event loop stays free) or the calling thread. */
export type OnnxThread = 'worker' | 'main';

export interface OnnxRunnerOptions {
  /** The `.onnx` bytes. */
  model: Uint8Array;
  /** The one float32 input the runner feeds. */
  inputName: string;
  /** The outputs read after each run, in this order. */
  outputNames: readonly string[];
  /** The public function that creates the runner, for messages (e.g. `createBackbone()`). */
  caller: string;
  /**
   * onnxruntime-node: intra-op threads (default one per core). onnxruntime-web: its global
   * `env.wasm.numThreads`, which it reads once, when it first initialises (default: its own, 1
   * unless the page is cross-origin isolated).
   */
  threads?: number;
  /** Extra onnxruntime session options, merged last (e.g. `{ extra: { session: { intra_op: { allow_spinning: '0' } } } }`). */
  sessionOptions?: Record<string, unknown>;
  /** Default `'worker'` for onnxruntime-node loaded by name, else `'main'` (the only choice for onnxruntime-web). */
  thread?: OnnxThread;
}

/** Output data: float32, or bool / uint8 as bytes (onnxruntime's representation). */
export type OnnxOutputData = Float32Array | Uint8Array;
type Outputs = Record<string, { data: OnnxOutputData; shape: number[] }>;

interface Executor {
  /** Resolves to the outputs and the input's buffer, free again. */
  run(data: Float32Array, shape: readonly number[]): Promise<{ outputs: Outputs; input: ArrayBuffer }>;
  release(): Promise<void>;
}

/**
 * Input buffers reused from batch to batch. A fresh 12.6 MB buffer per batch of sixteen 256×256
 * images costs its allocation and page faults (~0.3 ms per image, measured); a warm one only the
 * copy into it. A buffer is out of the pool while a run uses it, so concurrent runs never share one.
 */
class BufferPool {
  private readonly spare: ArrayBuffer[] = [];

  /** A buffer of `length` floats (contents undefined). */
  take(length: number): Float32Array {
    const i = this.spare.findIndex((b) => b.byteLength === length * 4);
    if (i < 0) return new Float32Array(length);
    const [buffer] = this.spare.splice(i, 1);
    return new Float32Array(buffer as ArrayBuffer);
  }

  /** Gives a buffer back; keeps at most two (a batch in flight and the next one being filled). */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0) return; // detached
    this.spare.push(buffer);
    if (this.spare.length > 2) this.spare.shift();
  }
}

/** An onnxruntime session running a model with one float32 input (the backbone's ResNet graph, or an exported whole model). */
export class OnnxRunner {
  private constructor(
    private readonly executor: Executor,
    /** One line: package, version, threads. */
    readonly detail: string,
    /** Size of the model built, in bytes. */
    readonly modelBytes: number,
  ) {}

  static async create(onnxruntime: LoadedOnnxruntime, options: OnnxRunnerOptions): Promise<OnnxRunner> {
    const { model, caller } = options;
    const modelBytes = model.length;
    const web = onnxruntime.packageName === 'onnxruntime-web';
    const thread = options.thread ?? (onnxruntime.modulePath !== undefined ? 'worker' : 'main');
    if (thread === 'worker' && onnxruntime.modulePath === undefined) {
      throw new InvalidArgumentError(
        `${caller}: onnxThread 'worker' needs onnxruntime-node loaded by name in Node — got ${onnxruntime.packageName}${onnxruntime.source === 'given' ? ' passed as onnxruntimeModule' : ''}. Use onnxThread: 'main' (the default here).`,
      );
    }
    const sessionOptions: Record<string, unknown> = {
      executionProviders: web ? ['wasm'] : ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      // No memory-pattern planning: it makes the first two runs of each new input shape slow (a batch
      // of 16 at 256²: 470 and 377 ms, then 180) instead of one (477, then 175); steady runs are as fast.
      // A fit meets several shapes (the last, partial batch), a service many (every batch size).
      enableMemPattern: false,
    };
    let threadsDetail: string;
    if (web) {
      // onnxruntime-web has one thread pool for the module, sized by env.wasm.numThreads when it
      // initialises (its first session); the session's intraOpNumThreads is not read.
      const wasm = onnxruntime.ort.env.wasm;
      if (options.threads !== undefined && wasm !== undefined) wasm.numThreads = options.threads;
      threadsDetail = '';
    } else {
      const threads = options.threads ?? nodeBuiltin('os', caller).availableParallelism();
      sessionOptions.intraOpNumThreads = threads;
      // No busy-waiting between parallel sections: the pool threads sleep instead, leaving the cores
      // to image decoding running beside inference (measured ~7% faster fit + test on 2 cores).
      sessionOptions.extra = { session: { intra_op: { allow_spinning: '0' } } };
      threadsDetail = `, ${threads} intra-op thread${threads === 1 ? '' : 's'}`;
    }
    Object.assign(sessionOptions, options.sessionOptions);
    const outputNames = [...options.outputNames];
    const executor =
      thread === 'worker'
        ? await WorkerExecutor.start({
            modulePath: onnxruntime.modulePath as string,
            model,
            sessionOptions,
            inputName: options.inputName,
            outputNames,
            caller,
          })
        : await MainExecutor.start(onnxruntime, model, sessionOptions, options.inputName, outputNames);
    if (web) {
      const numThreads = onnxruntime.ort.env.wasm?.numThreads;
      if (numThreads !== undefined) threadsDetail = `, ${numThreads} thread${numThreads === 1 ? '' : 's'}`;
    }
    const detail = `${onnxruntime.packageName} ${onnxruntime.version}, ${web ? 'wasm EP' : 'CPU EP'}${threadsDetail}${thread === 'worker' ? ', in a worker thread' : ''}`;
    return new OnnxRunner(executor, detail, modelBytes);
  }

  private readonly pool = new BufferPool();

  /**
   * A float32 buffer of `length` values to fill with a batch and pass to {@link OnnxRunner.run}:
   * reused from earlier runs when one of that size is free.
   */
  inputBuffer(length: number): Float32Array {
    return this.pool.take(length);
  }

  /**
   * Runs a float32 batch (the backbone: `[B, H, W, 3]` NHWC images). `data` must be a whole buffer of its own (from
   * {@link OnnxRunner.inputBuffer}): the runner owns it from here (in worker mode it is transferred)
   * and reuses it for a later batch.
   *
   * @returns each output by name, in onnxruntime's own output buffers (no copy)
   */
  async run(data: Float32Array, shape: readonly number[]): Promise<Outputs> {
    const { outputs, input } = await this.executor.run(data, shape);
    this.pool.give(input);
    return outputs;
  }

  release(): Promise<void> {
    return this.executor.release();
  }
}

class MainExecutor implements Executor {
  private constructor(
    private readonly onnxruntime: LoadedOnnxruntime,
    private readonly session: OrtSession,
    private readonly inputName: string,
    private readonly outputNames: string[],
  ) {}

  static async start(onnxruntime: LoadedOnnxruntime, model: Uint8Array, sessionOptions: Record<string, unknown>, inputName: string, outputNames: string[]) {
    return new MainExecutor(onnxruntime, await onnxruntime.ort.InferenceSession.create(model, sessionOptions), inputName, outputNames);
  }

  async run(data: Float32Array, shape: readonly number[]): Promise<{ outputs: Outputs; input: ArrayBuffer }> {
    const input = new this.onnxruntime.ort.Tensor('float32', data, [...shape]);
    const results = await this.session.run({ [this.inputName]: input });
    const out: Outputs = {};
    for (const name of this.outputNames) {
      const tensor = results[name];
      if (tensor === undefined) throw new DfmError(`onnxruntime returned no output ${name}. Report this as a bug.`, { code: 'E_INTERNAL' });
      out[name] = { data: tensor.data as OnnxOutputData, shape: [...tensor.dims] };
    }
    return { outputs: out, input: data.buffer as ArrayBuffer };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

class WorkerExecutor implements Executor {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (result: { outputs: Outputs; input: ArrayBuffer }) => void; reject: (error: Error) => void }
  >();
  private failed: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly caller: string,
  ) {
    worker.on('message', (message: OnnxWorkerReply) => {
      if (message.type === 'result') {
        const outputs: Outputs = {};
        for (const o of message.outputs) outputs[o.name] = { data: o.data, shape: o.shape };
        this.settle(message.id)?.resolve({ outputs, input: message.input });
      } else if (message.type === 'error' && message.id !== undefined) {
        this.settle(message.id)?.reject(new DfmError(`${this.caller}: onnxruntime failed — ${message.message}.`, { code: 'E_RUNTIME' }));
      }
    });
    const fail = (error: Error) => {
      this.failed ??= error;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new DfmError(`${this.caller}: the onnxruntime worker crashed — ${error.message}.`, { cause: error, code: 'E_RUNTIME' })));
    worker.on('exit', (code) => fail(new DfmError(`${this.caller}: the onnxruntime worker exited (code ${code}); it was released (disposed) or crashed.`, { code: 'E_RUNTIME' })));
    worker.unref();
  }

  private settle(id: number) {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return entry;
  }

  static async start(init: OnnxWorkerInit): Promise<WorkerExecutor> {
    const entry = workerEntry('onnx-worker', import.meta.url);
    const { Worker } = nodeBuiltin('worker_threads', init.caller);
    const worker = new Worker(entry.source, { eval: entry.eval, workerData: init, execArgv: workerExecArgv() });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (message: OnnxWorkerReply) => {
          if (message.type === 'ready') resolve();
          else reject(new DfmError(`${init.caller}: onnxruntime must load the model — ${message.type === 'error' ? message.message : 'unexpected reply'}.`, { code: 'E_RUNTIME' }));
        });
        worker.once('error', (error) => reject(new DfmError(`${init.caller}: the onnxruntime worker failed to start — ${error.message}.`, { cause: error, code: 'E_RUNTIME' })));
      });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    return new WorkerExecutor(worker, init.caller);
  }

  run(data: Float32Array, shape: readonly number[]): Promise<{ outputs: Outputs; input: ArrayBuffer }> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<{ outputs: Outputs; input: ArrayBuffer }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      const request: OnnxWorkerRequest = { id, data, shape: [...shape] };
      this.worker.postMessage(request, [data.buffer as ArrayBuffer]);
    });
  }

  async release(): Promise<void> {
    await this.worker.terminate();
  }
}
