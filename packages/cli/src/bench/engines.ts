import { availableParallelism } from 'node:os';
import { type Backbone, createBackbone, type EngineChoice } from '@dfm/backbone';

/** The engine configurations the bench measures. */
export const BENCH_ENGINES = ['onnxruntime', 'tfjs-wasm-workers', 'tfjs-wasm'] as const;
export type BenchEngine = (typeof BENCH_ENGINES)[number];

export interface EngineConfig {
  engine: EngineChoice;
  workers: number;
}

export function engineConfig(name: BenchEngine): EngineConfig {
  switch (name) {
    case 'onnxruntime':
      return { engine: 'onnxruntime', workers: 0 };
    case 'tfjs-wasm-workers':
      return { engine: 'tfjs', workers: availableParallelism() };
    case 'tfjs-wasm':
      return { engine: 'tfjs', workers: 0 };
  }
}

/** Creates the resnet18 → layer3 backbone of an engine configuration. */
export function createBenchBackbone(name: BenchEngine, weights: string): Promise<Backbone> {
  const { engine, workers } = engineConfig(name);
  return createBackbone('resnet18', { weights, layers: ['layer3'], engine, workers });
}
