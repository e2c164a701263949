import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScoringWorkerOptions } from '../src/index';

const here = fileURLToPath(new URL('.', import.meta.url));

/** A worker process (test/worker-process.ts under tsx); resolves once it takes jobs. */
export async function spawnWorker(options: Omit<ScoringWorkerOptions, 'onEvent'>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${here}worker-process.ts`], {
    env: { ...process.env, DFM_TEST_WORKER: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
  });
  return child;
}

/** Stops a worker process (SIGTERM: graceful) and waits for its exit code. */
export function stopWorker(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

export const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
