import type { Callback, FitPhaseProgress, StageProgress } from './callback';

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Where to draw (default `process.stderr`). */
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Draw even when the stream is not a TTY (default: only on a TTY). */
  force?: boolean;
}

/**
 * A one-line progress bar per stage on stderr, redrawn in place. Silent when the stream is not a
 * terminal (CI logs, pipes), so machine-readable output stays clean; `NO_COLOR` is respected.
 */
export class ProgressBar implements Callback {
  private readonly stream: NodeJS.WritableStream;
  private readonly enabled: boolean;
  private readonly color: boolean;
  private started = 0;

  constructor(options: ProgressBarOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    const tty = (this.stream as NodeJS.WriteStream).isTTY === true;
    this.enabled = options.force === true || tty;
    this.color = tty && !process.env.NO_COLOR;
  }

  onStageStart(): void {
    this.started = Date.now();
  }

  onBatchEnd(progress: StageProgress): void {
    if (!this.enabled) return;
    const { stage, samples, total } = progress;
    const fraction = total > 0 ? Math.min(1, samples / total) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? samples / seconds : 0;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const label = this.color ? `\u001b[36m${stage.padEnd(8)}\u001b[0m` : stage.padEnd(8);
    this.stream.write(`\r${label} ${bar} ${samples}/${total} images ${rate.toFixed(1)} img/s`);
  }

  /** Draws `PCA: accumulating ███░░ 40%` or `PCA: solving (iteration 3)` in place (then the next stage's line). */
  onFitProgress(progress: FitPhaseProgress): void {
    if (!this.enabled) return;
    const label = this.color ? `\u001b[36mPCA:\u001b[0m` : 'PCA:';
    let detail = '';
    if (progress.fraction !== undefined) {
      const width = 24;
      const filled = Math.round(Math.min(1, Math.max(0, progress.fraction)) * width);
      detail = ` ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.round(progress.fraction * 100)}%`;
    } else if (progress.iteration !== undefined) {
      detail = ` (iteration ${progress.iteration})`;
    }
    this.stream.write(`\r${label} ${progress.phase}${detail}${' '.repeat(20)}`);
  }

  onStageEnd(stage: StageProgress['stage'], info: { seconds: number; samples: number }): void {
    if (!this.enabled) return;
    this.stream.write(`\r${stage.padEnd(8)} done: ${info.samples} images in ${info.seconds.toFixed(1)} s${' '.repeat(20)}\n`);
  }
}
