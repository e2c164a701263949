/**
 * The end-to-end rows of `dfm bench`: `dfm test` on the bottle as a child process (start to exit),
 * fp32 and int8, against the PyTorch recipe script as a process (`bench/dfm_torch.py`, start to
 * exit) in the same run. Where a ratio misses its target, the child's own `timing.stages` say
 * which part holds it back.
 */
import type { DfmTestRun } from './dfm-test-child';

/** Targets of issue 20: `dfm test` wall ÷ the PyTorch script's wall. */
export const END_TO_END_TARGETS = { fp32: 0.5, int8: 0.35 } as const;

/** What each `timing.stages` entry of `dfm test` holds. */
const STAGE_MEANING: Record<string, string> = {
  process_s: 'Node start and imports before main(), and exit',
  startup_s: 'flags, dataset scan, backend and runtime choice',
  calibrate_s: 'int8 calibration images',
  train_s: 'decode + backbone of the training images',
  validate_s: 'decode + backbone + score of the validation (= test) images',
  fit_other_s: 'PCA fit, model file, and for int8 the calibration',
  test_s: 'test stage (scores reused from validation)',
  test_files_s: 'result pictures and files',
};

export interface EndToEndRatio {
  precision: DfmTestRun['precision'];
  /** dfm test wall ÷ PyTorch wall. */
  ratio: number;
  target: number;
  met: boolean;
  /** When missed: the parts of the wall time, largest first, and which one holds it back. */
  note: string | null;
}

export interface EndToEndReport {
  /** The child command line, paths shortened. */
  command: string;
  runs: DfmTestRun[];
  /** bench/dfm_torch.py as a process, start to exit; null when PyTorch was skipped. */
  torchWallSeconds: number | null;
  /** Why there are no ratios. */
  torchSkipped: string | null;
  ratios: EndToEndRatio[];
}

/** The parts of a child's wall time, largest first: its stages, and the process time outside main(). */
export function wallParts(run: DfmTestRun): { name: string; seconds: number }[] {
  const parts = Object.entries(run.stages).map(([name, seconds]) => ({ name, seconds }));
  parts.push({ name: 'process_s', seconds: Math.max(0, run.wallSeconds - run.totalSeconds) });
  // Anything main() timed but no stage claims (rounding, the gap between stages).
  const claimed = parts.reduce((sum, p) => sum + p.seconds, 0);
  if (run.wallSeconds - claimed > 0.01) parts.push({ name: 'unaccounted', seconds: run.wallSeconds - claimed });
  return parts.sort((a, b) => b.seconds - a.seconds);
}

/** The ratio of one run to PyTorch, and when it misses, what holds it back. */
export function endToEndRatio(run: DfmTestRun, torchWallSeconds: number): EndToEndRatio {
  const target = END_TO_END_TARGETS[run.precision];
  const ratio = run.wallSeconds / torchWallSeconds;
  const met = ratio <= target;
  if (met) return { precision: run.precision, ratio, target, met, note: null };
  const budget = target * torchWallSeconds;
  const parts = wallParts(run);
  const largest = parts[0] as { name: string; seconds: number };
  const without = run.wallSeconds - largest.seconds;
  const fmt = (p: { name: string; seconds: number }) => `${p.name} ${p.seconds.toFixed(2)}`;
  const reach =
    without <= budget
      ? `taking it off alone would reach the target (${without.toFixed(2)} s)`
      : `even with it at 0 s the rest takes ${without.toFixed(2)} s = ${(without / torchWallSeconds).toFixed(2)}× PyTorch, so it is not the only part`;
  return {
    precision: run.precision,
    ratio,
    target,
    met,
    note: `${target}× PyTorch needs ≤ ${budget.toFixed(2)} s; measured ${run.wallSeconds.toFixed(2)} s = ${parts.map(fmt).join(' + ')} s. Held back by ${largest.name} (${STAGE_MEANING[largest.name] ?? 'see timing.stages'}): ${reach}.`,
  };
}

/** The end-to-end report from the child runs and the PyTorch script's wall time. */
export function endToEndReport(runs: DfmTestRun[], torch: { wallSeconds: number } | { skipped: string }, command: string): EndToEndReport {
  const torchWallSeconds = 'wallSeconds' in torch ? torch.wallSeconds : null;
  return {
    command,
    runs,
    torchWallSeconds,
    torchSkipped: 'skipped' in torch ? torch.skipped : null,
    ratios: torchWallSeconds === null ? [] : runs.map((run) => endToEndRatio(run, torchWallSeconds)),
  };
}

/** The end-to-end rows as Markdown. */
export function formatEndToEnd(report: EndToEndReport): string {
  const lines: string[] = [];
  lines.push('### End to end (a process from start to exit, wall seconds; MVTec bottle)');
  lines.push('');
  lines.push(`\`${report.command}\`; PyTorch: \`/usr/bin/python3 bench/dfm_torch.py\` (the same recipe, no result files) as a process.`);
  lines.push('');
  lines.push('| run | wall s | dfm total_s | image AUROC | ÷ PyTorch | target | met |');
  lines.push('|---|---:|---:|---:|---:|---:|:---:|');
  for (const run of report.runs) {
    const ratio = report.ratios.find((r) => r.precision === run.precision);
    lines.push(
      `| dfm test ${run.precision === 'int8' ? `--precision int8 (${run.calibration})` : '(fp32)'} | ${run.wallSeconds.toFixed(2)} | ${run.totalSeconds.toFixed(2)} | ${run.imageAUROC.toFixed(4)} | ${ratio ? `${ratio.ratio.toFixed(2)}×` : '—'} | ≤ ${END_TO_END_TARGETS[run.precision]}× | ${ratio ? (ratio.met ? 'yes' : '**no**') : '—'} |`,
    );
  }
  if (report.torchWallSeconds !== null) lines.push(`| PyTorch bench/dfm_torch.py | ${report.torchWallSeconds.toFixed(2)} | — | — | 1.00× | | |`);
  else lines.push(`| PyTorch | — | — | — | — | | ${report.torchSkipped ?? 'skipped'} |`);
  lines.push('');
  for (const run of report.runs) {
    lines.push(`Stages of dfm test ${run.precision} (child's timing.stages, plus process_s = wall − total_s): ${wallParts(run).map((p) => `${p.name} ${p.seconds.toFixed(2)}`).join(', ')} s.`);
  }
  for (const r of report.ratios) if (r.note !== null) lines.push('', `${r.precision} misses ≤ ${r.target}×: ${r.note}`);
  return `${lines.join('\n')}\n`;
}
