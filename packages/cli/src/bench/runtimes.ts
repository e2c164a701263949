import { availableParallelism } from 'node:os';
import { type Backbone, createBackbone, type RuntimeChoice } from '@dfm/backbone';

/** The runtime configurations the bench measures. */
export const BENCH_RUNTIMES = ['onnxruntime', 'tfjs-wasm-workers', 'tfjs-wasm'] as const;
export type BenchRuntime = (typeof BENCH_RUNTIMES)[number];

export interface RuntimeConfig {
  runtime: RuntimeChoice;
  workers: number;
}

export function runtimeConfig(name: BenchRuntime): RuntimeConfig {
  switch (name) {
    case 'onnxruntime':
      return { runtime: 'onnxruntime', workers: 0 };
    case 'tfjs-wasm-workers':
      return { runtime: 'tfjs', workers: availableParallelism() };
    case 'tfjs-wasm':
      return { runtime: 'tfjs', workers: 0 };
  }
}

/** Creates the resnet18 → layer3 backbone of a runtime configuration. */
export function createBenchBackbone(name: BenchRuntime, weights: string): Promise<Backbone> {
  const { runtime, workers } = runtimeConfig(name);
  return createBackbone('resnet18', { weights, layers: ['layer3'], runtime, workers });
}
