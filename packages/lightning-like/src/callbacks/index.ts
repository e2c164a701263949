export type { Callback, FitPhaseProgress, StageProgress } from './callback';
export { ModelCheckpoint, type ModelCheckpointOptions } from './model-checkpoint';
export { ProgressBar, type ProgressBarOptions } from './progress-bar';
export { Timer } from './timer';
