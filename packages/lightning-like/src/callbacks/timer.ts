import type { Callback, StageProgress } from './callback';

/** Records how long each stage took and how many images it saw. */
export class Timer implements Callback {
  /** Seconds per stage (the last run of each). */
  readonly seconds: Partial<Record<StageProgress['stage'], number>> = {};
  readonly samples: Partial<Record<StageProgress['stage'], number>> = {};

  onStageEnd(stage: StageProgress['stage'], info: { seconds: number; samples: number }): void {
    this.seconds[stage] = info.seconds;
    this.samples[stage] = info.samples;
  }
}
