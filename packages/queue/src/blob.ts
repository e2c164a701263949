import { DfmError } from '@dfm/errors';
import type { Redis } from 'ioredis';

/** Bytes per Redis value: far below Redis' 512 MB bulk limit, and small enough not to stall it for long. */
export const BLOB_PART_BYTES = 32 * 1024 * 1024;

/**
 * Stores `bytes` under `<key>:0 … <key>:n-1` (parts of {@link BLOB_PART_BYTES}) and `<key>` = the part
 * count and length, all expiring after `ttlSeconds`; refuses more than `maxBytes`. A second write of the
 * same key (a retried shard) replaces the parts with identical content.
 */
export async function putBlob(redis: Redis, key: string, bytes: Uint8Array, options: { maxBytes: number; ttlSeconds: number }): Promise<void> {
  if (bytes.length > options.maxBytes) {
    throw new DfmError(
      `putBlob(): the shard's statistics are ${bytes.length} bytes — the limit is ${options.maxBytes}. Raise maxStatisticsBytes (--max-statistics-mb) or split the fit into more shards of fewer images (below D rows a shard's statistics are its rows).`,
      { code: 'E_PAYLOAD_TOO_LARGE' },
    );
  }
  const parts = Math.max(1, Math.ceil(bytes.length / BLOB_PART_BYTES));
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < parts; i++) {
    await redis.set(`${key}:${i}`, buffer.subarray(i * BLOB_PART_BYTES, Math.min(bytes.length, (i + 1) * BLOB_PART_BYTES)), 'EX', options.ttlSeconds);
  }
  // The header last: a reader that finds it finds every part.
  await redis.set(key, JSON.stringify({ parts, length: bytes.length }), 'EX', options.ttlSeconds);
}

/** Reads a blob written by {@link putBlob}; throws `E_JOB_FAILED` when it expired or is incomplete. */
export async function getBlob(redis: Redis, key: string): Promise<Uint8Array> {
  const header = await redis.get(key);
  if (header === null) {
    throw new DfmError(`getBlob(): ${key} is not in Redis (expired, or Redis lost it). Run the fit again; raise statisticsTtlSeconds if the shards take longer than it.`, { code: 'E_JOB_FAILED' });
  }
  const { parts, length } = JSON.parse(header) as { parts: number; length: number };
  const out = new Uint8Array(length);
  let offset = 0;
  for (let i = 0; i < parts; i++) {
    const part = await redis.getBuffer(`${key}:${i}`);
    if (part === null) throw new DfmError(`getBlob(): part ${i} of ${key} is missing (expired, or Redis lost it). Run the fit again.`, { code: 'E_JOB_FAILED' });
    out.set(part, offset);
    offset += part.length;
  }
  if (offset !== length) throw new DfmError(`getBlob(): ${key} holds ${offset} bytes — its header says ${length}. Run the fit again.`, { code: 'E_JOB_FAILED' });
  return out;
}

/** Deletes a blob's header and parts. */
export async function deleteBlob(redis: Redis, key: string): Promise<void> {
  const header = await redis.get(key);
  const parts = header === null ? 0 : (JSON.parse(header) as { parts: number }).parts;
  await redis.del(key, ...Array.from({ length: parts }, (_, i) => `${key}:${i}`));
}
