import { existsSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { type AnomalyDataset, maskStatus } from './dataset';
import { MissingMaskError } from './errors';
import { IMAGE_EXTENSIONS, isDirectory, listSubfolders, type Sample, scanImages } from './sample';
import { applySplits, resolveSplitOptions, type SplitInfo, type SplitOptions } from './splits';
import { InvalidArgumentError } from '@dfm/errors';

export interface MVTecADOptions extends SplitOptions {
  /** The folder holding the category folders (e.g. `.../mvtec_anomaly_detection`). */
  root: string;
  /** A category folder name under `root` (e.g. `'bottle'`). */
  category: string;
}

/** Lists at most `max` paths, then "… and N more". */
export function listSome(paths: readonly string[], max = 10): string {
  const shown = paths.slice(0, max).join(', ');
  return paths.length > max ? `${shown} … and ${paths.length - max} more` : shown;
}

/**
 * Finds the mask of `image` in `folder`: `<stem>_mask.png` first, then `<stem>_mask.<ext>`
 * for any image extension. Returns null when there is none.
 */
function findMask(folder: string, image: string): string | null {
  const stem = basename(image, extname(image));
  for (const ext of ['.png', ...IMAGE_EXTENSIONS.filter((e) => e !== '.png')]) {
    const candidate = join(folder, `${stem}_mask${ext}`);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The MVTec AD layout:
 * ```
 * root/<category>/train/good/*.png
 * root/<category>/test/<good|defect>/*.png
 * root/<category>/ground_truth/<defect>/<stem>_mask.png
 * ```
 * Test images under `good` are normal (empty masks); every other folder is a defect type.
 * Without any `ground_truth` folder the category is image-level only (`hasMasks` false and
 * `pixelMetricsReason` says why); with one, every defect image needs its mask, else
 * {@link MissingMaskError} names the images. Scanning is synchronous and only lists folders:
 * missing folders and an empty `train/good` fail here, before any model work.
 *
 * @example
 * const data = new MVTecAD({ root: '/data/mvtec', category: 'bottle', valSplitMode: 'from_test', seed: 1 });
 * data.train.length; // 209
 */
export class MVTecAD implements AnomalyDataset {
  readonly name = 'mvtec' as const;
  readonly category: string;
  readonly root: string;
  /** `root/category`. */
  readonly path: string;
  readonly train: Sample[];
  readonly test: Sample[];
  readonly val: Sample[];
  readonly hasMasks: boolean;
  readonly pixelMetricsReason: string | null;
  readonly splitInfo: SplitInfo;
  readonly ignoredFiles: string[] = [];

  constructor(options: MVTecADOptions) {
    const where = 'MVTecAD';
    const { root, category } = options ?? ({} as MVTecADOptions);
    if (typeof root !== 'string' || root === '') {
      throw new InvalidArgumentError(`${where}: root must be the folder holding the category folders — got ${JSON.stringify(root)}.`);
    }
    if (typeof category !== 'string' || category === '') {
      throw new InvalidArgumentError(`${where}: category must be a category folder name (e.g. 'bottle') — got ${JSON.stringify(category)}.`);
    }
    const split = resolveSplitOptions(options, where);
    this.root = resolve(root);
    this.category = category;
    this.path = join(this.root, category);
    if (!isDirectory(this.root)) {
      throw new InvalidArgumentError(`${where}: root folder ${this.root} does not exist. Pass root: the folder holding the category folders.`);
    }
    if (!isDirectory(this.path)) {
      const available = listSubfolders(this.root).filter((name) => isDirectory(join(this.root, name, 'train')));
      throw new InvalidArgumentError(
        `${where}: no category folder ${this.path}. Categories in ${this.root}: ${available.length > 0 ? available.join(', ') : '(none with a train/ folder)'}.`,
      );
    }
    const trainDir = join(this.path, 'train', 'good');
    if (!isDirectory(trainDir)) {
      throw new InvalidArgumentError(
        `${where}: ${trainDir} does not exist. An MVTec category needs train/good/ with normal images (see the MVTec AD layout in @dfm/data's README).`,
      );
    }
    const trainScan = scanImages(trainDir, { where, role: 'train/good' });
    this.ignoredFiles.push(...trainScan.ignored);
    if (trainScan.images.length === 0) {
      throw new InvalidArgumentError(
        `${where}: ${trainDir} holds no images (${IMAGE_EXTENSIONS.join(' ')}). DFM fits on normal images: put the normal training images there.`,
      );
    }
    const train: Sample[] = trainScan.images.map((path) => ({ path, label: 0, defectType: 'good', maskPath: null }));

    const groundTruthDir = join(this.path, 'ground_truth');
    const withGroundTruth = isDirectory(groundTruthDir);
    const readTest = (): Sample[] => {
      const testDir = join(this.path, 'test');
      if (!isDirectory(testDir)) {
        throw new InvalidArgumentError(
          `${where}: ${testDir} does not exist. Add test/<good|defect>/ folders, or pass testSplitMode: 'synthetic' or 'none'.`,
        );
      }
      const samples: Sample[] = [];
      const missing: string[] = [];
      for (const defectType of listSubfolders(testDir)) {
        const scan = scanImages(join(testDir, defectType), { where, role: `test/${defectType}` });
        this.ignoredFiles.push(...scan.ignored);
        for (const path of scan.images) {
          if (defectType === 'good') {
            samples.push({ path, label: 0, defectType, maskPath: null });
            continue;
          }
          let maskPath: string | null = null;
          if (withGroundTruth) {
            maskPath = findMask(join(groundTruthDir, defectType), path);
            if (maskPath === null) missing.push(path);
          }
          samples.push({ path, label: 1, defectType, maskPath });
        }
      }
      if (missing.length > 0) {
        throw new MissingMaskError(
          `${where}: ${groundTruthDir} exists but has no mask for ${missing.length} test image(s): ${listSome(missing)} (expected ground_truth/<defect>/<stem>_mask.png). Add the masks, or remove ground_truth/ to evaluate image-level only.`,
          { files: missing },
        );
      }
      if (samples.length === 0) {
        throw new InvalidArgumentError(`${where}: ${testDir} holds no images. Add test images, or pass testSplitMode: 'synthetic' or 'none'.`);
      }
      return samples;
    };
    const splits = applySplits(train, readTest, split, where);
    this.train = splits.train;
    this.test = splits.test;
    this.val = splits.val;
    this.splitInfo = splits.splitInfo;
    const status = maskStatus(
      [...this.test, ...this.val],
      `no ground_truth folder in ${this.path}: pixel metrics (pixel AUROC, pixel F1, AUPRO) are not computed; image-level metrics only.`,
    );
    this.hasMasks = status.hasMasks;
    this.pixelMetricsReason = status.pixelMetricsReason;
  }

  /** Same as the constructor, for callers that prefer `await MVTecAD.create(...)`. */
  static async create(options: MVTecADOptions): Promise<MVTecAD> {
    return new MVTecAD(options);
  }
}
