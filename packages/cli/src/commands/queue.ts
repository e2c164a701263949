import { connect } from 'node:net';
import type { QueueCounts, RedisConnection } from '@dfm/queue';
import { closest, UsageError } from '../errors';
import { writeJson } from '../io';
import type { CommandName } from '../options';
import type { CommandContext } from '../setup';

/** The subcommands of `dfm queue`. */
export const QUEUE_SUBCOMMANDS = ['stats', 'dead-letters'] as const;
export type QueueSubcommand = (typeof QUEUE_SUBCOMMANDS)[number];

/** The queue name `dfm train --distributed` uses without `--queue`. */
export const DEFAULT_QUEUE = 'dfm';

/** `@dfm/queue`, loaded when a queue command runs (BullMQ and ioredis are not loaded by the other commands). */
export function loadQueue(): Promise<typeof import('@dfm/queue')> {
  return import('@dfm/queue');
}

/** A Redis URL with its password hidden, for logs and `--json`. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** What {@link queueTarget} checked: where Redis is and which queue. */
export interface QueueTarget {
  redis: string;
  queueName: string;
}

/**
 * Checks `--redis` and `--queue` before any work (exit 2 naming the fix when missing or malformed);
 * `defaultQueue` is used without `--queue` (train), else `--queue` is required. `example` is the
 * command line shown in the message.
 */
export async function queueTarget(ctx: CommandContext, example: string, defaultQueue?: string): Promise<QueueTarget> {
  const { options: o, command } = ctx;
  const queueName = o.queue ?? defaultQueue;
  if (o.redis === undefined || queueName === undefined) {
    const missing = [o.redis === undefined ? '--redis URL' : null, queueName === undefined ? '--queue NAME' : null].filter((m) => m !== null).join(' and ');
    throw new UsageError(`dfm ${command}: needs ${missing} — the Redis of the queue and the queue's name. Example: ${example}`);
  }
  const queue = await loadQueue();
  try {
    queue.connectionOptions(o.redis, `dfm ${command}`);
  } catch (error) {
    throw new UsageError(`dfm ${command}: --redis must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379 — got ${JSON.stringify(redactRedisUrl(o.redis))}. Pass --redis redis://HOST:PORT.`, {
      cause: error,
    });
  }
  try {
    queue.checkQueueName(queueName, `dfm ${command}`);
  } catch (error) {
    throw new UsageError(
      `dfm ${command}: --queue must be 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit — got ${JSON.stringify(queueName)}. Use e.g. --queue line-3.`,
      { cause: error },
    );
  }
  return { redis: o.redis, queueName };
}

/**
 * Refuses (exit 2) a Redis that does not accept a TCP connection within `timeoutMs`: the queue's
 * clients wait for Redis indefinitely (to ride out a restart), so a wrong --redis would otherwise
 * hang the command without a word. Long-running commands (dfm worker) do not call this: they wait.
 */
export async function checkRedisReachable(command: CommandName, redis: RedisConnection, timeoutMs = 5000): Promise<void> {
  const queue = await loadQueue();
  const options = queue.connectionOptions(redis, `dfm ${command}`) as { host?: string; port?: number; path?: string };
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 6379;
  const shown = typeof redis === 'string' ? redactRedisUrl(redis) : `${host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new UsageError(`dfm ${command}: cannot reach Redis at ${shown} (${reason}). Start Redis there, or pass the right --redis URL.`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs / 1000} s`));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

/** The first argument of `dfm queue` when it is not a flag: the subcommand. */
export function splitSubcommand(argv: readonly string[]): { subcommand: string | undefined; rest: string[] } {
  const [first, ...rest] = argv;
  if (first === undefined || first.startsWith('-')) return { subcommand: undefined, rest: [...argv] };
  return { subcommand: first, rest };
}

const STATS_COLUMNS = ['waiting', 'active', 'delayed', 'completed', 'failed', 'deadLetters', 'workers'] as const;
const STATS_HEADERS: Record<(typeof STATS_COLUMNS)[number], string> = {
  waiting: 'waiting',
  active: 'active',
  delayed: 'delayed',
  completed: 'completed',
  failed: 'failed',
  deadLetters: 'dead letters',
  workers: 'workers',
};

/** The stats table: one row per queue (NAME, NAME-fit). */
export function statsTable(counts: readonly QueueCounts[]): string {
  const width = Math.max(5, ...counts.map((c) => c.queue.length));
  const header = [`${'queue'.padEnd(width)}`, ...STATS_COLUMNS.map((column) => STATS_HEADERS[column].padStart(Math.max(7, STATS_HEADERS[column].length)))].join('  ');
  const rows = counts.map((c) =>
    [c.queue.padEnd(width), ...STATS_COLUMNS.map((column) => String(c[column]).padStart(Math.max(7, STATS_HEADERS[column].length)))].join('  '),
  );
  return `${[header, ...rows].join('\n')}\n`;
}

/**
 * `dfm queue stats|dead-letters --redis URL --queue NAME`: the job counts of a scoring queue and its
 * fit queue (a table, `--json`, or `--prometheus` text), or the jobs that failed their last attempt.
 */
export async function runQueue(ctx: CommandContext, subcommand: string | undefined): Promise<number> {
  const { options: o, io } = ctx;
  const example = 'dfm queue stats --redis redis://127.0.0.1:6379 --queue line-3';
  if (subcommand === undefined) {
    throw new UsageError(`dfm queue: needs a subcommand: ${QUEUE_SUBCOMMANDS.join(' or ')} — got none. Example: ${example}`);
  }
  if (!(QUEUE_SUBCOMMANDS as readonly string[]).includes(subcommand)) {
    const guess = closest(subcommand, QUEUE_SUBCOMMANDS);
    throw new UsageError(`dfm queue: '${subcommand}' is not a subcommand — use ${QUEUE_SUBCOMMANDS.join(' or ')}.${guess ? ` Did you mean '${guess}'?` : ''} Example: ${example}`);
  }
  if (subcommand === 'stats' && o.limit !== undefined) throw new UsageError("dfm queue stats: --limit applies to 'dfm queue dead-letters' only. Leave it out.");
  if (subcommand === 'dead-letters' && o.prometheus) throw new UsageError("dfm queue dead-letters: --prometheus applies to 'dfm queue stats' only. Leave it out, or use --json.");
  if (o.prometheus && io.json) throw new UsageError('dfm queue stats: --prometheus and --json are two output formats. Pass one of them.');
  const { redis, queueName } = await queueTarget(ctx, example.replace('stats', subcommand));
  await checkRedisReachable(ctx.command, redis);
  const queue = await loadQueue();
  if (subcommand === 'stats') {
    const counts = await queue.queueStats({ connection: redis, queueName });
    if (io.json) writeJson(io, { command: 'queue stats', queue: queueName, redis: redactRedisUrl(redis), queues: counts, warnings: ctx.warnings });
    else if (o.prometheus) io.out.write(queue.formatPrometheus(counts));
    else io.out.write(statsTable(counts));
    return 0;
  }
  const limit = o.limit ?? 100;
  // Dead letters of both queues (scoring jobs and fit shards), oldest first.
  const letters = [
    ...(await queue.deadLetters({ connection: redis, queueName, limit })),
    ...(await queue.deadLetters({ connection: redis, queueName: queue.fitQueueName(queueName), limit })),
  ]
    .sort((a, b) => a.failedAt.localeCompare(b.failedAt))
    .slice(0, limit);
  if (io.json) {
    writeJson(io, { command: 'queue dead-letters', queue: queueName, redis: redactRedisUrl(redis), limit, deadLetters: letters, warnings: ctx.warnings });
    return 0;
  }
  if (letters.length === 0) {
    io.out.write(`no dead letters in ${queueName} or ${queue.fitQueueName(queueName)}\n`);
    return 0;
  }
  const lines = letters.map(
    (letter) => `${letter.failedAt}  ${letter.queue}  ${letter.id}  ${letter.image ?? letter.name}  (${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'}, ${letter.worker}): ${letter.error}`,
  );
  io.out.write(`${lines.join('\n')}\n`);
  return 0;
}
