import { availableParallelism } from 'node:os';
import { type Backbone, createBackbone, type Int8Calibration, type Precision, type RuntimeChoice } from '@dfm/backbone';
import { InvalidArgumentError } from '@dfm/errors';

/** The runtime configurations the bench measures (onnxruntime-int8: onnxruntime on the int8 network). */
export const BENCH_RUNTIMES = ['onnxruntime', 'onnxruntime-int8', 'tfjs-wasm-workers', 'tfjs-wasm'] as const;
export type BenchRuntime = (typeof BENCH_RUNTIMES)[number];

export interface RuntimeConfig {
  runtime: RuntimeChoice;
  workers: number;
  precision: Precision;
}

export function runtimeConfig(name: BenchRuntime): RuntimeConfig {
  switch (name) {
    case 'onnxruntime':
      return { runtime: 'onnxruntime', workers: 0, precision: 'fp32' };
    case 'onnxruntime-int8':
      return { runtime: 'onnxruntime', workers: 0, precision: 'int8' };
    case 'tfjs-wasm-workers':
      return { runtime: 'tfjs', workers: availableParallelism(), precision: 'fp32' };
    case 'tfjs-wasm':
      return { runtime: 'tfjs', workers: 0, precision: 'fp32' };
  }
}

/**
 * Creates the resnet18 → layer3 backbone of a runtime configuration; an int8 one needs the
 * activation ranges (`calibrateBenchBackbone`).
 */
export function createBenchBackbone(name: BenchRuntime, weights: string, int8Calibration?: Int8Calibration): Promise<Backbone> {
  const { runtime, workers, precision } = runtimeConfig(name);
  if (precision === 'int8') {
    if (int8Calibration === undefined) {
      throw new InvalidArgumentError(`createBenchBackbone('${name}'): an int8 runtime needs int8Calibration — got none. Measure it with calibrateBenchBackbone() first.`);
    }
    return createBackbone('resnet18', { weights, layers: ['layer3'], runtime, workers, precision, int8Calibration });
  }
  return createBackbone('resnet18', { weights, layers: ['layer3'], runtime, workers });
}
