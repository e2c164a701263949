import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findAssetsDir } from '@dfm/backbone/internal';
import { runBench } from '../bench/run-bench';
import { UsageError } from '../errors';
import type { CommandContext } from '../setup';
import { DEMO_DATA, DEMO_WEIGHTS } from './demo';

/** `dfm bench`: the performance benchmark (tables, or one JSON document with --json). */
export async function runBenchCommand(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  // The benchmark runs on the development assets; a missing folder is the user's to fix (exit 2).
  if (o.assetsDir !== undefined) {
    const missing = [DEMO_WEIGHTS, DEMO_DATA].filter((p) => !existsSync(join(resolve(o.assetsDir as string), p)));
    if (missing.length > 0) throw new UsageError(`dfm bench: --assets-dir ${o.assetsDir} lacks ${missing.join(', ')}. Point it at the folder holding weights/ and data/.`);
  } else {
    const found = findAssetsDir({ require: [DEMO_WEIGHTS, DEMO_DATA] });
    if (!found.found) throw new UsageError(`dfm bench: needs the development assets — ${found.reason}`);
  }
  await runBench(
    {
      ...(o.assetsDir !== undefined ? { assetsDir: resolve(o.assetsDir) } : {}),
      ...(o.runtimes !== undefined ? { runtimes: o.runtimes } : {}),
      ...(o.skipTorch ? { skipTorch: true } : {}),
      ...(o.skipMemory ? { skipMemory: true } : {}),
      ...(o.skipService ? { skipService: true } : {}),
      ...(o.serviceOnly ? { serviceOnly: true } : {}),
      ...(o.skipEndToEnd ? { skipEndToEnd: true } : {}),
      ...(o.skipAccuracy ? { skipAccuracy: true } : {}),
      ...(o.memoryImages !== undefined ? { memoryImages: o.memoryImages } : {}),
      ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
      json: o.json,
    },
    { out: io.out, err: io.err },
  );
  return 0;
}
