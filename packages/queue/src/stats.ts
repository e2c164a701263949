import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { checkQueueName, connectionOptions, deadLetterKey, fitQueueName, type RedisConnection } from './connection';

/** Job counts of one queue, and its dead-letter list's length. */
export interface QueueCounts {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  deadLetters: number;
  /** Workers connected to the queue now. */
  workers: number;
}

/** A dead letter: a job that failed its last attempt. */
export interface DeadLetter {
  id: string;
  queue: string;
  name: string;
  image: string | null;
  error: string;
  attempts: number;
  failedAt: string;
  worker: string;
}

/** The counts of a scoring queue and its fit queue (`dfm queue stats`). */
export async function queueStats(options: { connection: RedisConnection; queueName: string }): Promise<QueueCounts[]> {
  const where = 'queueStats()';
  const name = checkQueueName(options.queueName, where);
  const connection = connectionOptions(options.connection, where);
  const redis = new Redis(connection as never);
  try {
    const out: QueueCounts[] = [];
    for (const queueName of [name, fitQueueName(name)]) {
      const queue = new Queue(queueName, { connection });
      try {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children');
        const workers = await queue.getWorkersCount();
        out.push({
          queue: queueName,
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          completed: counts.completed ?? 0,
          failed: counts.failed ?? 0,
          deadLetters: await redis.llen(deadLetterKey(queueName)),
          workers,
        });
      } finally {
        await queue.close();
      }
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

/** The dead letters of a queue (oldest first), at most `limit` (default 100). */
export async function deadLetters(options: { connection: RedisConnection; queueName: string; limit?: number }): Promise<DeadLetter[]> {
  const where = 'deadLetters()';
  const name = checkQueueName(options.queueName, where);
  const redis = new Redis(connectionOptions(options.connection, where) as never);
  try {
    const entries = await redis.lrange(deadLetterKey(name), 0, (options.limit ?? 100) - 1);
    return entries.map((entry) => JSON.parse(entry) as DeadLetter);
  } finally {
    redis.disconnect();
  }
}

/** Prometheus text of {@link queueStats} (gauges `dfm_queue_jobs{queue,state}`, `dfm_queue_dead_letters`, `dfm_queue_workers`). */
export function formatPrometheus(counts: readonly QueueCounts[]): string {
  const lines = [
    '# HELP dfm_queue_jobs Jobs of a DFM queue by state.',
    '# TYPE dfm_queue_jobs gauge',
    ...counts.flatMap((c) =>
      (['waiting', 'active', 'delayed', 'completed', 'failed'] as const).map((state) => `dfm_queue_jobs{queue="${c.queue}",state="${state}"} ${c[state]}`),
    ),
    '# HELP dfm_queue_dead_letters Jobs that failed their last attempt.',
    '# TYPE dfm_queue_dead_letters gauge',
    ...counts.map((c) => `dfm_queue_dead_letters{queue="${c.queue}"} ${c.deadLetters}`),
    '# HELP dfm_queue_workers Workers connected to the queue.',
    '# TYPE dfm_queue_workers gauge',
    ...counts.map((c) => `dfm_queue_workers{queue="${c.queue}"} ${c.workers}`),
  ];
  return `${lines.join('\n')}\n`;
}
