import { createRng, shuffle } from './random';
import type { Sample } from './sample';
import { InvalidArgumentError } from '@dfm/errors';

/**
 * Where the test set comes from.
 * - `'from_dir'`: the dataset's own test images (MVTec `test/`, Folder `abnormalDir` + normal test images).
 * - `'synthetic'`: `testSplitRatio` of the normal training images are held out; half of them stay
 *   normal, half become synthetic anomalies (with masks) generated at batching time.
 * - `'none'`: no test set.
 */
export type TestSplitMode = 'from_dir' | 'synthetic' | 'none';

/**
 * Where the validation set (used to fit adaptive thresholds) comes from.
 * - `'same_as_test'`: the validation set IS the test set. Thresholds are then fitted on the
 *   images they are evaluated on, so F1 scores are optimistic (anomalib's default; kept for parity).
 * - `'from_test'`: a seeded part (`valSplitRatio`, stratified by defect type) of the test set is
 *   moved to validation; thresholds come from images the test never sees.
 * - `'synthetic'`: `valSplitRatio` of the normal training images are held out, half turned into
 *   synthetic anomalies.
 * - `'none'`: no validation set; adaptive thresholds are not fitted.
 */
export type ValSplitMode = 'same_as_test' | 'from_test' | 'synthetic' | 'none';

/** Split options shared by {@link MVTecAD} and {@link Folder}. */
export interface SplitOptions {
  /** Default `'from_dir'`. */
  testSplitMode?: TestSplitMode;
  /** Fraction of the normal training images held out for a `'synthetic'` test set. Default 0.2. */
  testSplitRatio?: number;
  /** Default `'same_as_test'` (anomalib's default; see {@link ValSplitMode} for the caveat). */
  valSplitMode?: ValSplitMode;
  /** Fraction moved to validation (`'from_test'`: of each defect type of the test set; `'synthetic'`: of the training images). Default 0.5. */
  valSplitRatio?: number;
  /** Seed of every random split. Default 0. */
  seed?: number;
}

/** How a dataset was split; results report it so readers know where thresholds came from. */
export interface SplitInfo {
  testSplitMode: TestSplitMode;
  testSplitRatio: number;
  valSplitMode: ValSplitMode;
  valSplitRatio: number;
  seed: number;
  /** The split adaptive thresholds are fitted on: `'val'` (held out), `'test'` (the test set itself) or `'none'`. */
  thresholdSplit: 'val' | 'test' | 'none';
  counts: { train: number; test: number; val: number };
  /** One sentence for reports saying where thresholds come from and what that implies. */
  note: string;
}

export interface ResolvedSplitOptions {
  testSplitMode: TestSplitMode;
  testSplitRatio: number;
  valSplitMode: ValSplitMode;
  valSplitRatio: number;
  seed: number;
}

/**
 * The note of a split without validation images. Thresholds need anomalous validation images:
 * without them predictions carry raw scores only (no labels, no normalised scores).
 */
export const NO_THRESHOLDS_NOTE =
  "No validation images: thresholds are not fitted, so predictions have raw scores but no labels or normalised scores. Thresholds need anomalous validation images: give anomalous test images (valSplitMode 'same_as_test' or 'from_test'), or use valSplitMode 'synthetic' (synthetic anomalies made from held-out normal images).";

const TEST_MODES: readonly TestSplitMode[] = ['from_dir', 'synthetic', 'none'];
const VAL_MODES: readonly ValSplitMode[] = ['same_as_test', 'from_test', 'synthetic', 'none'];

function ratio(value: number | undefined, fallback: number, name: string, where: string): number {
  const r = value ?? fallback;
  if (!(typeof r === 'number' && r >= 0 && r <= 1)) {
    throw new InvalidArgumentError(`${where}: ${name} must be a number in [0, 1] — got ${JSON.stringify(value)}.`);
  }
  return r;
}

/** Checks split options and fills in defaults. */
export function resolveSplitOptions(options: SplitOptions, where: string): ResolvedSplitOptions {
  const testSplitMode = options.testSplitMode ?? 'from_dir';
  const valSplitMode = options.valSplitMode ?? 'same_as_test';
  if (!TEST_MODES.includes(testSplitMode)) {
    throw new InvalidArgumentError(`${where}: testSplitMode must be one of ${TEST_MODES.join(', ')} — got ${JSON.stringify(testSplitMode)}.`);
  }
  if (!VAL_MODES.includes(valSplitMode)) {
    throw new InvalidArgumentError(`${where}: valSplitMode must be one of ${VAL_MODES.join(', ')} — got ${JSON.stringify(valSplitMode)}.`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`${where}: seed must be an integer — got ${JSON.stringify(seed)}.`);
  if (testSplitMode === 'none' && (valSplitMode === 'same_as_test' || valSplitMode === 'from_test')) {
    throw new InvalidArgumentError(
      `${where}: valSplitMode '${valSplitMode}' needs a test set, but testSplitMode is 'none'. Use valSplitMode 'synthetic' or 'none'.`,
    );
  }
  return {
    testSplitMode,
    testSplitRatio: ratio(options.testSplitRatio, 0.2, 'testSplitRatio', where),
    valSplitMode,
    valSplitRatio: ratio(options.valSplitRatio, 0.5, 'valSplitRatio', where),
    seed,
  };
}

/**
 * Holds out `ratio` of the normal `train` samples (seeded): half stay normal, half become
 * synthetic anomalies. Returns the remaining training samples and the held-out set.
 */
export function holdOutSynthetic(
  train: readonly Sample[],
  heldOutRatio: number,
  seed: number,
  purpose: string,
): { train: Sample[]; heldOut: Sample[] } {
  const rng = createRng(seed, purpose);
  const order = shuffle(train, rng);
  const count = Math.round(train.length * heldOutRatio);
  const picked = order.slice(0, count);
  const pickedSet = new Set(picked);
  const heldOut = picked.map((sample, i): Sample =>
    i % 2 === 1
      ? {
          path: sample.path,
          label: 1,
          defectType: 'synthetic',
          maskPath: null,
          synthetic: { seed: Math.floor(rng() * 0x7fffffff) },
        }
      : { ...sample },
  );
  return { train: train.filter((sample) => !pickedSet.has(sample)), heldOut: sortByPath(heldOut) };
}

function sortByPath(samples: Sample[]): Sample[] {
  return samples.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.label - b.label));
}

/** Moves `ratio` of every defect type of `test` (seeded, rounded per type) into a validation set. */
export function splitFromTest(test: readonly Sample[], ratio: number, seed: number): { test: Sample[]; val: Sample[] } {
  const rng = createRng(seed, 'val-from-test');
  const groups = new Map<string, Sample[]>();
  for (const sample of test) {
    const key = `${sample.label}:${sample.defectType}`;
    const group = groups.get(key) ?? [];
    group.push(sample);
    groups.set(key, group);
  }
  const toVal = new Set<Sample>();
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    for (const sample of shuffle(group, rng).slice(0, Math.round(group.length * ratio))) toVal.add(sample);
  }
  return { test: test.filter((s) => !toVal.has(s)), val: test.filter((s) => toVal.has(s)) };
}

/**
 * Applies the split options to a dataset's training samples and its test samples from disk
 * (`testFromDir`, only read when `testSplitMode` is `'from_dir'`).
 */
export function applySplits(
  trainIn: readonly Sample[],
  testFromDir: () => Sample[],
  options: ResolvedSplitOptions,
  where: string,
): { train: Sample[]; test: Sample[]; val: Sample[]; splitInfo: SplitInfo } {
  let train = trainIn.slice();
  let test: Sample[] = [];
  if (options.testSplitMode === 'from_dir') {
    test = testFromDir();
  } else if (options.testSplitMode === 'synthetic') {
    const held = holdOutSynthetic(train, options.testSplitRatio, options.seed, 'test-synthetic');
    train = held.train;
    test = held.heldOut;
  }
  let val: Sample[] = [];
  if (options.valSplitMode === 'same_as_test') {
    val = test.slice();
  } else if (options.valSplitMode === 'from_test') {
    const split = splitFromTest(test, options.valSplitRatio, options.seed);
    test = split.test;
    val = split.val;
  } else if (options.valSplitMode === 'synthetic') {
    const held = holdOutSynthetic(train, options.valSplitRatio, options.seed, 'val-synthetic');
    train = held.train;
    val = held.heldOut;
  }
  if (train.length === 0) {
    throw new InvalidArgumentError(
      `${where}: no training images left after holding out ${trainIn.length} image(s) for the ${options.testSplitMode === 'synthetic' ? 'test' : 'validation'} split. Lower testSplitRatio/valSplitRatio or add normal images.`,
    );
  }
  const thresholdSplit: SplitInfo['thresholdSplit'] =
    options.valSplitMode === 'none' || val.length === 0 ? 'none' : options.valSplitMode === 'same_as_test' ? 'test' : 'val';
  const note =
    thresholdSplit === 'none'
      ? NO_THRESHOLDS_NOTE
      : thresholdSplit === 'test'
        ? 'Thresholds are fitted on the test set itself (valSplitMode same_as_test): threshold-dependent metrics (F1) are optimistic; AUROC/AUPRO are unaffected.'
        : options.valSplitMode === 'from_test'
          ? `Thresholds are fitted on a held-out validation split (${Math.round(options.valSplitRatio * 100)}% of each test defect type, seed ${options.seed}) that the test set does not contain.`
          : `Thresholds are fitted on a synthetic validation split (${Math.round(options.valSplitRatio * 100)}% of the training images, half made anomalous, seed ${options.seed}).`;
  return {
    train,
    test,
    val,
    splitInfo: {
      ...options,
      thresholdSplit,
      counts: { train: train.length, test: test.length, val: val.length },
      note,
    },
  };
}
