import type { AnomalyModule } from './anomaly-module';
import { NotFittedError } from '@dfm/errors';

// biome-ignore lint/suspicious/noExplicitAny: the mixin pattern needs an any-args constructor.
type AbstractConstructor<T> = abstract new (...args: any[]) => T;

/**
 * Adds memory-bank training to an {@link AnomalyModule} (anomalib's `MemoryBankMixin`): training
 * steps only collect embeddings; the model fits exactly once, at the end of the first training
 * epoch or, at the latest, before validation. Later epochs have nothing to learn and are skipped.
 *
 * The class using it implements `collect(batch)` (through `trainingStep`) and `fitMemoryBank()`.
 */
export function MemoryBankMixin<TBase extends AbstractConstructor<AnomalyModule>>(Base: TBase) {
  abstract class MemoryBankModule extends Base {
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
  return MemoryBankModule;
}
