import { basename, extname, resolve } from 'node:path';
import { type AnomalyDataset, maskStatus } from './dataset';
import { MissingMaskError } from './errors';
import { listSome } from './mvtec-ad';
import { createRng, shuffle } from './random';
import { relativePosix, type Sample, scanImages } from './sample';
import { applySplits, resolveSplitOptions, type SplitInfo, type SplitOptions } from './splits';
import { InvalidArgumentError } from '@dfm/errors';

export interface FolderOptions extends SplitOptions {
  /** Normal images (scanned recursively). Training images, minus the held-out normal test part. */
  normalDir: string;
  /**
   * Anomalous test images (scanned recursively; a sub-folder's name becomes the defect type, else this
   * folder's name). Without it, `testSplitMode` and `valSplitMode` default to `'none'`: the dataset
   * is for fitting only (no test set, no thresholds) unless another split mode is chosen.
   */
  abnormalDir?: string;
  /** Normal test images. Without it, `normalSplitRatio` of `normalDir` is moved to the test set. */
  normalTestDir?: string;
  /** Masks of the anomalous images, matched by path or name: `<stem>.<ext>` or `<stem>_mask.<ext>`. */
  maskDir?: string;
  /** Fraction of `normalDir` moved to the test set when there is no `normalTestDir` (`'from_dir'` only). Default 0.2. */
  normalSplitRatio?: number;
  /** The dataset's name in results. Default: `basename(normalDir)`. */
  name?: string;
  /** Relative folders are resolved from here. Default: the working directory. */
  root?: string;
}

function stemKey(relativePath: string): string {
  return relativePath.slice(0, relativePath.length - extname(relativePath).length);
}

/**
 * A dataset from plain folders (anomalib's `Folder`): normal images for training, anomalous
 * (and optionally normal) images for testing, optional masks. Scanning is synchronous and
 * validates the folders at once.
 *
 * @example
 * const data = new Folder({ normalDir: 'data/good', abnormalDir: 'data/defect', maskDir: 'data/mask', seed: 3 });
 */
export class Folder implements AnomalyDataset {
  readonly name = 'folder' as const;
  readonly category: string;
  readonly train: Sample[];
  readonly test: Sample[];
  readonly val: Sample[];
  readonly hasMasks: boolean;
  readonly pixelMetricsReason: string | null;
  readonly splitInfo: SplitInfo;
  readonly ignoredFiles: string[] = [];
  /** The fraction of `normalDir` moved to the test set (0 when `normalTestDir` is given or test is not `'from_dir'`). */
  readonly normalSplitRatio: number;

  constructor(options: FolderOptions) {
    const where = 'Folder';
    if (typeof options?.normalDir !== 'string' || options.normalDir === '') {
      throw new InvalidArgumentError(`${where}: normalDir must be the folder of normal images — got ${JSON.stringify(options?.normalDir)}.`);
    }
    // Without anomalous images there is nothing to test on or to fit thresholds with: unless the
    // caller chose otherwise, the test and validation splits are then 'none' (fit only, raw scores).
    const noAnomalies = options.abnormalDir === undefined;
    const testSplitMode = options.testSplitMode ?? (noAnomalies ? 'none' : 'from_dir');
    const valSplitMode = options.valSplitMode ?? (noAnomalies && testSplitMode === 'none' ? 'none' : undefined);
    if (noAnomalies && options.testSplitMode === undefined && (valSplitMode === 'same_as_test' || valSplitMode === 'from_test')) {
      throw new InvalidArgumentError(
        `${where}: valSplitMode '${valSplitMode}' needs a test set — got no abnormalDir, so there is none (testSplitMode defaults to 'none'). Pass abnormalDir (anomalous images), or testSplitMode 'synthetic', or valSplitMode 'synthetic' or 'none'.`,
      );
    }
    const split = resolveSplitOptions({ ...options, testSplitMode, ...(valSplitMode !== undefined ? { valSplitMode } : {}) }, where);
    const normalSplitRatio = options.normalSplitRatio ?? 0.2;
    if (!(normalSplitRatio >= 0 && normalSplitRatio < 1)) {
      throw new InvalidArgumentError(`${where}: normalSplitRatio must be in [0, 1) — got ${JSON.stringify(options.normalSplitRatio)}.`);
    }
    const root = options.root ?? process.cwd();
    const at = (dir: string | undefined): string | undefined => (dir === undefined ? undefined : resolve(root, dir));
    const normalDir = at(options.normalDir)!;
    const abnormalDir = at(options.abnormalDir);
    const normalTestDir = at(options.normalTestDir);
    const maskDir = at(options.maskDir);
    this.category = options.name ?? basename(normalDir);

    const normalScan = scanImages(normalDir, { recursive: true, where, role: 'normalDir' });
    this.ignoredFiles.push(...normalScan.ignored);
    if (normalScan.images.length === 0) {
      throw new InvalidArgumentError(
        `${where}: normalDir ${normalDir} holds no images. DFM fits on normal images: put the normal training images there.`,
      );
    }
    let normals: Sample[] = normalScan.images.map((path) => ({ path, label: 0, defectType: 'good', maskPath: null }));
    let heldOutNormals: Sample[] = [];
    const fromDir = split.testSplitMode === 'from_dir';
    this.normalSplitRatio = fromDir && normalTestDir === undefined ? normalSplitRatio : 0;
    if (this.normalSplitRatio > 0) {
      const order = shuffle(normals, createRng(split.seed, 'normal-split'));
      const count = Math.round(normals.length * this.normalSplitRatio);
      const held = new Set(order.slice(0, count));
      heldOutNormals = normals.filter((s) => held.has(s));
      normals = normals.filter((s) => !held.has(s));
      if (normals.length === 0) {
        throw new InvalidArgumentError(
          `${where}: normalSplitRatio ${normalSplitRatio} leaves no training image out of ${normalScan.images.length}. Lower it or pass normalTestDir.`,
        );
      }
    }

    const readTest = (): Sample[] => {
      if (abnormalDir === undefined) {
        throw new InvalidArgumentError(
          `${where}: testSplitMode 'from_dir' needs abnormalDir (the anomalous test images). Pass abnormalDir, or testSplitMode 'synthetic' or 'none'.`,
        );
      }
      const abnormalScan = scanImages(abnormalDir, { recursive: true, where, role: 'abnormalDir' });
      this.ignoredFiles.push(...abnormalScan.ignored);
      const masks = maskDir === undefined ? undefined : indexMasks(maskDir, where, this.ignoredFiles);
      const missing: string[] = [];
      const anomalous = abnormalScan.images.map((path): Sample => {
        const relativePath = relativePosix(abnormalDir, path);
        const parts = relativePath.split('/');
        const defectType = parts.length > 1 ? parts[0]! : basename(abnormalDir);
        let maskPath: string | null = null;
        if (masks !== undefined) {
          maskPath = masks.find(relativePath, path);
          if (maskPath === null) missing.push(path);
        }
        return { path, label: 1, defectType, maskPath };
      });
      if (missing.length > 0) {
        throw new MissingMaskError(
          `${where}: maskDir ${maskDir} has no mask for ${missing.length} anomalous image(s): ${listSome(missing)} (looked for <stem>.<ext> and <stem>_mask.<ext>). Add the masks, or drop maskDir to evaluate image-level only.`,
          { files: missing },
        );
      }
      let normalTest = heldOutNormals;
      if (normalTestDir !== undefined) {
        const scan = scanImages(normalTestDir, { recursive: true, where, role: 'normalTestDir' });
        this.ignoredFiles.push(...scan.ignored);
        normalTest = scan.images.map((path) => ({ path, label: 0, defectType: 'good', maskPath: null }));
      }
      const test = [...normalTest, ...anomalous];
      if (test.length === 0) {
        throw new InvalidArgumentError(`${where}: abnormalDir ${abnormalDir} holds no images. Add anomalous images, or pass testSplitMode 'synthetic' or 'none'.`);
      }
      return test;
    };
    const splits = applySplits(normals, readTest, split, where);
    this.train = splits.train;
    this.test = splits.test;
    this.val = splits.val;
    this.splitInfo = splits.splitInfo;
    const status = maskStatus(
      [...this.test, ...this.val],
      'no maskDir given: pixel metrics (pixel AUROC, pixel F1, AUPRO) are not computed; image-level metrics only.',
    );
    this.hasMasks = status.hasMasks;
    this.pixelMetricsReason = status.pixelMetricsReason;
  }

  /** Same as the constructor, for callers that prefer `await Folder.create(...)`. */
  static async create(options: FolderOptions): Promise<Folder> {
    return new Folder(options);
  }
}

/** Indexes a mask folder by relative path without extension, and by file stem. */
function indexMasks(maskDir: string, where: string, ignored: string[]): { find(relativePath: string, image: string): string | null } {
  const scan = scanImages(maskDir, { recursive: true, where, role: 'maskDir' });
  ignored.push(...scan.ignored);
  const byRelative = new Map<string, string>();
  const byStem = new Map<string, string[]>();
  for (const path of scan.images) {
    const key = stemKey(relativePosix(maskDir, path));
    if (!byRelative.has(key)) byRelative.set(key, path);
    const stem = key.split('/').pop()!;
    byStem.set(stem, [...(byStem.get(stem) ?? []), path]);
  }
  return {
    find(relativePath, image) {
      const key = stemKey(relativePath);
      for (const candidate of [key, `${key}_mask`]) {
        const hit = byRelative.get(candidate);
        if (hit !== undefined) return hit;
      }
      const stem = key.split('/').pop()!;
      for (const candidate of [stem, `${stem}_mask`]) {
        const hits = byStem.get(candidate);
        if (hits === undefined) continue;
        if (hits.length > 1) {
          throw new InvalidArgumentError(
            `${where}: the mask of ${image} is ambiguous: ${hits.join(', ')}. Mirror abnormalDir's sub-folders in maskDir.`,
          );
        }
        return hits[0]!;
      }
      return null;
    },
  };
}
