/**
 * `pnpm bench` entry: `tsx packages/cli/src/bench/main.ts [--runtimes a,b] [--skip-torch] [--skip-memory]
 * [--skip-kernel-variant] [--skip-service] [--service-only] [--service-seconds N] [--skip-e2e] [--skip-accuracy] [--json] [--iterations N] [--memory-images N] [--assets-dir DIR]` (the same benchmark as `dfm bench`).
 */
import { runBench } from './run-bench';

const argv = process.argv.slice(2);
const value = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
// --engines: the deprecated name of --runtimes (same values), kept for one release.
const deprecated = value('--engines');
if (deprecated !== undefined) process.stderr.write('dfm: warning: --engines is deprecated; use --runtimes (same values)\n');
const runtimes = value('--runtimes') ?? deprecated;
const iterations = value('--iterations');
const assetsDir = value('--assets-dir');
const memoryImages = value('--memory-images');
await runBench(
  {
    ...(runtimes !== undefined ? { runtimes: runtimes.split(',') } : {}),
    ...(iterations !== undefined ? { iterations: Number(iterations) } : {}),
    ...(assetsDir !== undefined ? { assetsDir } : {}),
    ...(memoryImages !== undefined ? { memoryImages: Number(memoryImages) } : {}),
    skipTorch: argv.includes('--skip-torch'),
    skipMemory: argv.includes('--skip-memory'),
    skipKernelVariant: argv.includes('--skip-kernel-variant'),
    skipService: argv.includes('--skip-service'),
    serviceOnly: argv.includes('--service-only'),
    skipEndToEnd: argv.includes('--skip-e2e'),
    skipAccuracy: argv.includes('--skip-accuracy'),
    ...(value('--service-seconds') !== undefined ? { serviceSeconds: Number(value('--service-seconds')) } : {}),
    json: argv.includes('--json'),
  },
  { out: process.stdout, err: process.stderr },
);
process.exit(0);
