import type { Callback, FitPhaseProgress, StageProgress } from '@dfm/lightning-like';

/** Where a command writes: the result on `out`, logs and progress on `err`. */
export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** `--json`: `out` receives one JSON document and nothing else. */
  json: boolean;
  verbose: boolean;
  /** Colour on `err` (a TTY and no `NO_COLOR`). */
  color: boolean;
}

export function makeIo(out: NodeJS.WritableStream, err: NodeJS.WritableStream, json: boolean, verbose: boolean, env: Record<string, string | undefined> = process.env): Io {
  const tty = (err as NodeJS.WriteStream).isTTY === true;
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return { out, err, json, verbose, color: tty && !noColor && env.TERM !== 'dumb' };
}

/** A line on stderr. */
export function log(io: Io, message: string): void {
  io.err.write(`${message}\n`);
}

/** `dfm: warning: …` on stderr, in yellow on a colour terminal. */
export function warn(io: Io, message: string): void {
  const label = io.color ? '\u001b[33mwarning\u001b[0m' : 'warning';
  io.err.write(`dfm: ${label}: ${message}\n`);
}

/** Writes the `--json` document (pretty, one document, trailing newline). */
export function writeJson(io: Io, document: unknown): void {
  io.out.write(`${JSON.stringify(document, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

/** Engine callbacks for the CLI: warnings to stderr (and collected), one line per stage when stderr is not a TTY. */
export function cliCallback(io: Io, warnings: string[]): Callback {
  const tty = (io.err as NodeJS.WriteStream).isTTY === true;
  let lastPhase: FitPhaseProgress['phase'] | null = null;
  return {
    onWarning(message: string) {
      warnings.push(message);
      warn(io, message);
    },
    onStageEnd(stage: StageProgress['stage'], info: { seconds: number; samples: number }) {
      // On a TTY the Engine's ProgressBar already closes each stage with this line.
      if (!tty) log(io, `${stage}: ${info.samples} images in ${info.seconds.toFixed(1)} s`);
    },
    onFitProgress(progress: FitPhaseProgress) {
      // On a TTY the ProgressBar draws every report in place; in logs, one line per phase.
      if (tty || progress.phase === lastPhase) return;
      lastPhase = progress.phase;
      log(io, `PCA: ${progress.phase}`);
    },
  };
}

/** A two-column table of metrics, 4 decimals. */
export function metricsTable(metrics: Record<string, number>): string {
  const names = Object.keys(metrics);
  if (names.length === 0) return '(no metrics)\n';
  const width = Math.max(6, ...names.map((n) => n.length));
  const rows = [`${'metric'.padEnd(width)}  value`, `${'-'.repeat(width)}  ------`];
  for (const name of names) rows.push(`${name.padEnd(width)}  ${(metrics[name] as number).toFixed(4)}`);
  return `${rows.join('\n')}\n`;
}

/** Seconds with 3 decimals (for JSON timing). */
export function seconds(value: number): number {
  return Math.round(value * 1000) / 1000;
}
