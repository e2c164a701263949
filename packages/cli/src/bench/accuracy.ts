/**
 * The int8 accuracy table of `dfm bench`: `dfm test` on the bottle and magnetic-tile at fp32, int8
 * with minmax ranges and int8 with percentile ranges; image AUROC, pixel AUROC (where there are
 * masks) and the Spearman correlation of each int8 run's per-image FRE scores with fp32's.
 */
import type { DfmTestRun } from './dfm-test-child';
import { spearman } from './spearman';

/** Targets of issue 20 for the int8 runs. */
export const ACCURACY_TARGETS = {
  imageAUROC: { 'mvtec-bottle': 0.99, 'magnetic-tile': 0.98 } as Record<string, number>,
  pixelAUROC: { 'magnetic-tile': 0.82 } as Record<string, number>,
  spearman: 0.995,
};

export interface AccuracyRow {
  category: string;
  precision: DfmTestRun['precision'];
  calibration: DfmTestRun['calibration'];
  imageAUROC: number;
  pixelAUROC: number | null;
  /** int8: Spearman of the per-image scores with the fp32 run's (same images, matched by path); null for fp32. */
  spearmanVsFp32: number | null;
  /** The child's wall seconds. */
  seconds: number;
  /** int8: the targets this row misses (empty = all met); null for fp32. */
  missed: string[] | null;
}

export interface AccuracyReport {
  rows: AccuracyRow[];
  targets: typeof ACCURACY_TARGETS;
  /** Runs that failed, one line each. */
  failed: string[];
}

/** Spearman of `scores` with `reference` over the paths both have, in the reference's order. */
export function pairedSpearman(reference: ReadonlyMap<string, number>, scores: ReadonlyMap<string, number>): number {
  const a: number[] = [];
  const b: number[] = [];
  for (const [path, score] of reference) {
    const other = scores.get(path);
    if (other === undefined) continue;
    a.push(score);
    b.push(other);
  }
  return spearman(a, b);
}

/** The table's rows from each category's runs (fp32 first when present) and their scores. */
export function accuracyRows(runs: readonly { run: DfmTestRun; scores: ReadonlyMap<string, number> }[]): AccuracyRow[] {
  return runs.map(({ run, scores }) => {
    const reference = runs.find((r) => r.run.category === run.category && r.run.precision === 'fp32');
    if (run.precision === 'fp32') {
      return { category: run.category, precision: run.precision, calibration: null, imageAUROC: run.imageAUROC, pixelAUROC: run.pixelAUROC, spearmanVsFp32: null, seconds: run.wallSeconds, missed: null };
    }
    const rho = reference === undefined ? null : pairedSpearman(reference.scores, scores);
    const missed: string[] = [];
    const image = ACCURACY_TARGETS.imageAUROC[run.category];
    const pixel = ACCURACY_TARGETS.pixelAUROC[run.category];
    if (image !== undefined && run.imageAUROC < image) missed.push(`image AUROC < ${image}`);
    if (pixel !== undefined && (run.pixelAUROC === null || run.pixelAUROC < pixel)) missed.push(`pixel AUROC < ${pixel}`);
    if (rho === null) missed.push('Spearman not measured (no fp32 run of this dataset)');
    else if (!(rho >= ACCURACY_TARGETS.spearman)) missed.push(`Spearman < ${ACCURACY_TARGETS.spearman}`);
    return { category: run.category, precision: run.precision, calibration: run.calibration, imageAUROC: run.imageAUROC, pixelAUROC: run.pixelAUROC, spearmanVsFp32: rho, seconds: run.wallSeconds, missed };
  });
}

/** The accuracy table as Markdown. */
export function formatAccuracy(report: AccuracyReport): string {
  const t = report.targets;
  const lines: string[] = [];
  lines.push('### int8 accuracy (dfm test, resnet18 → layer3, onnxruntime; int8 calibrated on 32 seeded training images)');
  lines.push('');
  lines.push(
    `Targets for int8: image AUROC ≥ ${t.imageAUROC['mvtec-bottle']} (bottle), ≥ ${t.imageAUROC['magnetic-tile']} (tile); pixel AUROC ≥ ${t.pixelAUROC['magnetic-tile']} (tile); Spearman of per-image FRE scores with fp32's ≥ ${t.spearman} (average ranks for ties).`,
  );
  lines.push('');
  lines.push('| dataset | precision | image AUROC | pixel AUROC | Spearman vs fp32 | wall s | targets |');
  lines.push('|---|---|---:|---:|---:|---:|---|');
  for (const r of report.rows) {
    lines.push(
      `| ${r.category} | ${r.precision === 'int8' ? `int8 ${r.calibration}` : 'fp32'} | ${r.imageAUROC.toFixed(4)} | ${r.pixelAUROC === null ? '—' : r.pixelAUROC.toFixed(4)} | ${r.spearmanVsFp32 === null ? '—' : r.spearmanVsFp32.toFixed(4)} | ${r.seconds.toFixed(1)} | ${r.missed === null ? 'reference' : r.missed.length === 0 ? 'met' : `**missed**: ${r.missed.join(', ')}`} |`,
    );
  }
  for (const line of report.failed) lines.push(`| ${line} ||||||`);
  return `${lines.join('\n')}\n`;
}
