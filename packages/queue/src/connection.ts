import { InvalidArgumentError } from '@dfm/errors';
import type { ConnectionOptions } from 'bullmq';

/**
 * Where Redis is: a URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS) or
 * ioredis options (`{ host, port, password, db, … }`), as BullMQ takes them.
 */
export type RedisConnection = string | { host?: string; port?: number; password?: string; username?: string; db?: number; tls?: object; [option: string]: unknown };

/**
 * The ioredis options every connection of this package uses: `maxRetriesPerRequest: null` (BullMQ's
 * workers need it, and a client must wait out a Redis restart rather than fail its commands) and a
 * reconnect delay growing to 2 s, so workers and clients come back by themselves when Redis does.
 */
export function connectionOptions(connection: RedisConnection, where: string): ConnectionOptions {
  const common = { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (times: number) => Math.min(100 * times, 2000) };
  if (typeof connection === 'string') {
    let url: URL;
    try {
      url = new URL(connection);
    } catch {
      throw new InvalidArgumentError(`${where}: connection must be a Redis URL such as redis://127.0.0.1:6379 — got ${JSON.stringify(connection)}. Pass --redis redis://HOST:PORT.`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new InvalidArgumentError(`${where}: connection must be a redis:// or rediss:// URL — got the protocol ${JSON.stringify(url.protocol)} in ${JSON.stringify(connection)}. Pass redis://HOST:PORT.`);
    }
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
    if (!Number.isSafeInteger(db) || db < 0) {
      throw new InvalidArgumentError(`${where}: the database in ${JSON.stringify(connection)} must be a number ≥ 0 (redis://host:port/0) — got ${JSON.stringify(url.pathname.slice(1))}.`);
    }
    return {
      ...common,
      host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: url.port === '' ? 6379 : Number(url.port),
      db,
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    } as ConnectionOptions;
  }
  if (connection === null || typeof connection !== 'object' || Array.isArray(connection)) {
    throw new InvalidArgumentError(`${where}: connection must be a Redis URL or ioredis options { host, port } — got ${connection === null ? 'null' : typeof connection}. Pass 'redis://127.0.0.1:6379'.`);
  }
  return { ...common, ...connection } as ConnectionOptions;
}

/** A queue name BullMQ accepts (no `:`, which separates its Redis keys). */
export function checkQueueName(name: unknown, where: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/.test(name)) {
    throw new InvalidArgumentError(
      `${where}: queueName must be 1–96 letters, digits, '.', '_' or '-' (starting with a letter or digit) — got ${JSON.stringify(name)}. Use e.g. 'line-3'.`,
    );
  }
  return name;
}

/** The queue of fit shards that goes with a scoring queue: workers of `name` serve both. */
export function fitQueueName(name: string): string {
  return `${name}-fit`;
}

/** BullMQ's default key prefix; every key of this package lies under `<prefix>:<queue>:`. */
export const PREFIX = 'bull';

/** Redis list of the jobs that failed for good (after their attempts): JSON entries, newest last. */
export function deadLetterKey(queueName: string, prefix = PREFIX): string {
  return `${prefix}:${queueName}:dfm-dead-letter`;
}

/** Positive integer option check, with the house message. */
export function checkPositiveInteger(value: unknown, name: string, where: string, fix: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${where}: ${name} must be an integer ≥ 1 — got ${JSON.stringify(value)}. ${fix}`);
  }
  return value;
}
