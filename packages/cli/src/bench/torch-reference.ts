import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What bench/dfm_torch.py prints. */
export interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  images: { train: number; test: number };
  components: number;
  load_s: number;
  stages_s: { decode: number; backbone: number; fit: number; score: number };
  fit_s: number;
  total_s: number;
  auroc: number;
  backbone_ms_per_image: number;
  /** Not printed by the script: its process from start to exit (Python start, imports, the run), wall seconds, measured by {@link runTorchReference}. */
  processWallSeconds: number;
}

/** The Python that has Debian's python3-torch: `$DFM_PYTHON`, else /usr/bin/python3, else python3. */
export function pythonExecutable(env: Record<string, string | undefined> = process.env): string {
  if (env.DFM_PYTHON) return env.DFM_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * Runs the PyTorch reference of the recipe (`bench/dfm_torch.py`) as a child process.
 *
 * @returns its result, or a one-line reason it was skipped (no Python, no torch, script failed)
 */
export function runTorchReference(script: string, data: string, weights: string, batchSize: number): TorchResult | string {
  if (!existsSync(script)) return `${script} not found (run the bench from the repository)`;
  const python = pythonExecutable();
  const probe = spawnSync(python, ['-c', 'import torch, torchvision, PIL, numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
    return `${python} cannot import torch, torchvision, PIL and numpy (${why}); install Debian's python3-torch and python3-torchvision`;
  }
  const started = performance.now();
  const run = spawnSync(python, [script, '--data', data, '--weights', weights, '--batch', String(batchSize)], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  const processWallSeconds = (performance.now() - started) / 1000;
  if (run.error || run.status !== 0) {
    return `${script} failed: ${run.error?.message ?? run.stderr.trim().split('\n').pop()}`;
  }
  const printed = JSON.parse(run.stdout.trim().split('\n').pop() as string) as Omit<TorchResult, 'processWallSeconds'>;
  return { ...printed, processWallSeconds };
}
