/**
 * The performance benchmark behind `dfm bench` / `pnpm bench` (the performance issue fills it in).
 */

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Assets folder (default: found by findAssetsDir). */
  assetsDir?: string;
  /** Engines to measure (default: every available one). */
  engines?: string[];
  /** Skip the PyTorch reference run. */
  skipTorch?: boolean;
  /** Emit one JSON document instead of tables. */
  json?: boolean;
}

/** What {@link runBench} measured. */
export type BenchReport = Record<string, unknown>;

/** Runs the benchmark, printing tables (or JSON) to `out` and progress to `err`. */
export async function runBench(
  _options: BenchOptions,
  _io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): Promise<BenchReport> {
  throw new Error('runBench(): not implemented yet (see the performance issue).');
}
