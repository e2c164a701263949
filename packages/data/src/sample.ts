import { readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { InvalidArgumentError } from '@dfm/errors';

/** One image of a dataset. */
export interface Sample {
  /** Absolute path of the image file. */
  path: string;
  /** 1 = anomalous, 0 = normal. */
  label: 0 | 1;
  /** The defect folder's name; `'good'` for normal images, `'synthetic'` for synthetic anomalies. */
  defectType: string;
  /** Ground-truth mask file, or null (normal images: an empty mask). */
  maskPath: string | null;
  /**
   * Set on synthetic anomalies (`testSplitMode`/`valSplitMode` `'synthetic'`): the image at `path`
   * is a normal one that {@link batches} turns into an anomaly, with its mask, from this seed.
   */
  synthetic?: { seed: number };
}

/** File extensions scanned as images (case-insensitive). Other files are listed in `ignoredFiles`. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.jpe', '.bmp', '.dib', '.tif', '.tiff', '.webp', '.gif'] as const;

/** True when `name`'s extension is one of {@link IMAGE_EXTENSIONS}. */
export function hasImageExtension(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/** Images found in a folder, sorted by path, and the other files that were left out. */
export interface ScanResult {
  images: string[];
  ignored: string[];
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `path` is an existing directory (symlinks followed). */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Lists the image files of a folder (symlinks followed, hidden files skipped), sorted by path.
 * `where` names the caller for the error when the folder is missing.
 *
 * Symlink loops cannot hang or explode the scan: a folder is entered once per real path, so a
 * link back to a folder already being scanned (or already scanned through another link) is left
 * out and listed in `ignored`. A link that cannot be resolved (dangling, or a loop of links,
 * ELOOP) is kept as a file when it has an image extension, so reading it reports that file.
 */
export function scanImages(dir: string, options: { recursive?: boolean; where: string; role: string }): ScanResult {
  if (!isDirectory(dir)) {
    throw new InvalidArgumentError(
      `${options.where}: the ${options.role} folder ${dir} does not exist or is not a folder. Check the path (it is resolved from ${process.cwd()}).`,
    );
  }
  const images: string[] = [];
  const ignored: string[] = [];
  const visited = new Set<string>();
  const walk = (folder: string): void => {
    let real: string;
    try {
      real = realpathSync(folder);
    } catch {
      ignored.push(folder);
      return;
    }
    if (visited.has(real)) {
      ignored.push(folder);
      return;
    }
    visited.add(real);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const stats = statSync(path);
          isDir = stats.isDirectory();
          isFile = stats.isFile();
        } catch {
          isFile = true; // a dangling link: keep it so reading it reports the file
        }
      }
      if (isDir) {
        if (options.recursive) walk(path);
        else ignored.push(path);
      } else if (isFile) {
        if (hasImageExtension(entry.name)) images.push(path);
        else ignored.push(path);
      }
    }
  };
  walk(dir);
  images.sort(byCodeUnit);
  ignored.sort(byCodeUnit);
  return { images, ignored };
}

/** Path of `path` relative to `from`, with forward slashes. */
export function relativePosix(from: string, path: string): string {
  return relative(from, path).split('\\').join('/');
}

/** Lists the sub-folders of a folder (hidden ones skipped), sorted. */
export function listSubfolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && isDirectory(join(dir, name)))
    .sort(byCodeUnit);
}
