import type { FeatureShape } from '@dfm/core';
import type { PCAStatistics } from '@dfm/linalg';
import type { AnomalyModule } from './anomaly-module';
import { NotFittedError } from '@dfm/errors';

/**
 * A memory bank's content, as it travels between the processes of a sharded fit: what
 * {@link MemoryBankModule.takeStatistics} returns and {@link MemoryBankModule.addStatistics} takes.
 */
export interface MemoryBankStatistics {
  /** The bank's PCA statistics (no tensors; `toBytes()` / `PCAStatistics.fromBytes()` to send them, `merge` to combine shards). */
  statistics: PCAStatistics;
  /** `[h, w, c]` of the features, h·w·c = D. */
  featureShape: FeatureShape;
  /** `[height, width]` of the training images the features came from; null when unknown. */
  imageSize: [number, number] | null;
}

/** What {@link MemoryBankMixin} adds to an {@link AnomalyModule}; {@link isMemoryBankModule} tells whether a module has it. */
export interface MemoryBankModule {
  /** True once the memory bank has been fitted (or the model was loaded fitted). */
  readonly isFitted: boolean;
  /** How many times the bank was fitted by this mixin (0 or 1). */
  readonly fitCount: number;
  /** Fits the model on the collected memory bank (then frees the bank). */
  fitMemoryBank(): Promise<void>;
  /**
   * The bank's statistics after training steps, emptying the bank (a shard's part of a sharded fit, see
   * `Engine.collectStatistics`). They belong to the caller.
   */
  takeStatistics(): MemoryBankStatistics;
  /**
   * Merges a shard's statistics into the bank before `onTrainEpochEnd` fits it (see `Engine.fit`'s
   * `statistics` option); the bank takes them over. Refuses statistics of other features.
   */
  addStatistics(shard: MemoryBankStatistics): Promise<void>;
  markFitted(): void;
  ensureFitted(): Promise<void>;
  assertFitted(where: string): void;
}

/**
 * True when `model` is a memory-bank module (built with {@link MemoryBankMixin}, such as `Dfm`): one whose
 * fit can be sharded with `Engine.collectStatistics` and `Engine.fit`'s `statistics` option.
 */
export function isMemoryBankModule<T extends AnomalyModule>(model: T): model is T & MemoryBankModule {
  const candidate = model as Partial<Record<keyof MemoryBankModule, unknown>> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.isFitted === 'boolean' &&
    typeof candidate.fitMemoryBank === 'function' &&
    typeof candidate.takeStatistics === 'function' &&
    typeof candidate.addStatistics === 'function'
  );
}

// biome-ignore lint/suspicious/noExplicitAny: the mixin pattern needs an any-args constructor.
type AbstractConstructor<T> = abstract new (...args: any[]) => T;

/**
 * Adds memory-bank training to an {@link AnomalyModule} (anomalib's `MemoryBankMixin`): training
 * steps only collect embeddings; the model fits exactly once, at the end of the first training
 * epoch or, at the latest, before validation. Later epochs have nothing to learn and are skipped.
 *
 * The class using it implements `collect(batch)` (through `trainingStep`), `fitMemoryBank()`, and, for a
 * sharded fit, `takeStatistics()` and `addStatistics(shard)` (see {@link MemoryBankModule}).
 */
export function MemoryBankMixin<TBase extends AbstractConstructor<AnomalyModule>>(Base: TBase) {
  abstract class MemoryBankModuleBase extends Base implements MemoryBankModule {
    #fitted = false;
    #fitCount = 0;

    /** True once the memory bank has been fitted (or the model was loaded fitted). */
    get isFitted(): boolean {
      return this.#fitted;
    }

    /** How many times the bank was fitted by this mixin (0 or 1). */
    get fitCount(): number {
      return this.#fitCount;
    }

    /** Fits the model on the collected memory bank (then frees the bank). */
    abstract fitMemoryBank(): Promise<void>;

    /** The bank's statistics after training steps, emptying the bank (see {@link MemoryBankModule.takeStatistics}). */
    abstract takeStatistics(): MemoryBankStatistics;

    /** Merges a shard's statistics into the bank before it is fitted (see {@link MemoryBankModule.addStatistics}). */
    abstract addStatistics(shard: MemoryBankStatistics): Promise<void>;

    /** Marks the module fitted without a fit (used when a fitted model is restored from a file). */
    markFitted(): void {
      this.#fitted = true;
    }

    /** Fits once; further calls do nothing. */
    async ensureFitted(): Promise<void> {
      if (this.#fitted) return;
      await this.fitMemoryBank();
      this.#fitted = true;
      this.#fitCount += 1;
    }

    override async onTrainEpochEnd(epoch: number): Promise<void> {
      await super.onTrainEpochEnd(epoch);
      await this.ensureFitted();
    }

    override async onValidationStart(): Promise<void> {
      await super.onValidationStart();
      await this.ensureFitted();
    }

    /** Throws {@link NotFittedError} naming the class and the fix when not fitted. */
    assertFitted(where: string): void {
      if (!this.#fitted) {
        throw new NotFittedError(
          `${this.constructor.name}.${where}(): the memory bank is not fitted yet. Run engine.fit(model, datamodule) (or load a fitted model) before ${where}.`,
        );
      }
    }
  }
  return MemoryBankModuleBase;
}
