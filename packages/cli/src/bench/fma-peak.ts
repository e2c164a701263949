import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The measured FMA peak of the machine. */
export interface FmaPeak {
  /** GFLOP/s with one thread per core (the machine's limit), best vector width. */
  gflops: number;
  /** GFLOP/s with one thread. */
  singleThreadGflops: number;
  threads: number;
  how: string;
}

/**
 * Compiles and runs `bench/fma_peak.c` (register-only vector FMA chains, AVX-512 and AVX2, best of 3)
 * with `cc -O3 -march=native`: once with one thread, once with one thread per core.
 *
 * @returns the peak, or a reason why it could not be measured
 */
export function measureFmaPeak(source: string, threads: number): FmaPeak | string {
  if (!existsSync(source)) return `${source} not found`;
  const binary = join(mkdtempSync(join(tmpdir(), 'dfm-fma-')), 'fma_peak');
  const build = spawnSync('cc', ['-O3', '-march=native', '-pthread', source, '-o', binary], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    return `cannot compile ${source} with cc (${build.error?.message ?? build.stderr.trim().split('\n')[0]})`;
  }
  const run = (n: number) => {
    const result = spawnSync(binary, [String(n), '0.4'], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as { gflops: number; avx512: { gflops: number }; avx2: { gflops: number } };
  };
  try {
    const one = run(1);
    const all = run(threads);
    return {
      gflops: all.gflops,
      singleThreadGflops: one.gflops,
      threads,
      how: `bench/fma_peak.c: 12 independent register FMA chains per thread, ${all.avx512.gflops > 0 ? 'AVX-512' : 'AVX2'}, cc -O3 -march=native, best of 3`,
    };
  } catch (error) {
    return `fma_peak failed (${(error as Error).message.split('\n')[0]})`;
  }
}
