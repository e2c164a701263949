export { type ImageSource, type ScoreOutcome, ScoringClient, type SubmitOptions, type SubmittedImage, submitImages } from './client';
export { checkQueueName, connectionOptions, deadLetterKey, fitQueueName, type RedisConnection } from './connection';
export { type DistributedFitOptions, fitDistributed } from './fit';
export { type FitShardResult, type ScoreResult, scoreJobId } from './jobs';
export { createScoringWorker, type ScoringWorker, type ScoringWorkerOptions, type WorkerEvent } from './scoring-worker';
export { type DeadLetter, deadLetters, formatPrometheus, type QueueCounts, queueStats } from './stats';
export { VERSION } from './version';
