import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

/** The machine a benchmark ran on, in words and numbers. */
export interface MachineInfo {
  cpu: string;
  /** Logical CPUs available to this process (nproc). */
  nproc: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started (other jobs on the machine make numbers noisy). */
  loadAverage: number;
  /** Vector extensions relevant to the conv kernels. */
  simd: string[];
}

export function describeMachine(): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  let simd: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const flags = new Set((/^flags\s*:\s*(.+)$/m.exec(info)?.[1] ?? '').split(/\s+/));
    simd = ['avx2', 'fma', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'amx_tile'].filter((f) => flags.has(f));
  } catch {
    // not Linux: keep os.cpus()
  }
  return {
    cpu,
    nproc: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    simd,
  };
}
