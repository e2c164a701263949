import { nodeBuiltin } from './node-builtin';

/** Where the development assets (real weights and data) are, or why they are not there. */
export interface AssetsLocation {
  /** The directory that was looked at (absolute), or `undefined` when none could be derived. */
  dir: string | undefined;
  /** True when `dir` exists and holds every file asked for in `require`. */
  found: boolean;
  /** Why `found` is false, in a sentence that says how to fix it; empty when found. */
  reason: string;
  /** How `dir` was chosen. */
  source: 'DFM_ASSETS_DIR' | 'workspace' | 'none';
}

export interface FindAssetsOptions {
  /** Paths relative to the assets directory that must exist (e.g. `weights/resnet18-imagenet-layer1-3.safetensors`). */
  require?: readonly string[];
  /** Environment to read `DFM_ASSETS_DIR` from. Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Where to start looking for the repository root. Default: `process.cwd()`. */
  from?: string;
}

/** Walks up from `start` to the folder holding `pnpm-workspace.yaml` (the repository root). */
export function findWorkspaceRoot(start: string): string | undefined {
  const { existsSync } = nodeBuiltin('fs', 'findWorkspaceRoot()');
  const { dirname, join, resolve } = nodeBuiltin('path', 'findWorkspaceRoot()');
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Finds the development assets: `$DFM_ASSETS_DIR` when set, else `../shared/assets` beside the
 * repository root. Never throws: the result says whether they are usable and, if not, why.
 *
 * @example
 * const assets = findAssetsDir({ require: ['data/mvtec-bottle'] });
 * if (assets.found) console.log(join(assets.dir!, 'data/mvtec-bottle'));
 */
export function findAssetsDir(options: FindAssetsOptions = {}): AssetsLocation {
  const { existsSync, statSync } = nodeBuiltin('fs', 'findAssetsDir()');
  const { join, resolve } = nodeBuiltin('path', 'findAssetsDir()');
  const { require = [], env = process.env, from = process.cwd() } = options;
  let dir: string | undefined;
  let source: AssetsLocation['source'];
  const fromEnv = env.DFM_ASSETS_DIR;
  if (fromEnv !== undefined && fromEnv !== '') {
    dir = resolve(fromEnv);
    source = 'DFM_ASSETS_DIR';
  } else {
    const root = findWorkspaceRoot(from);
    if (root === undefined) {
      return {
        dir: undefined,
        found: false,
        source: 'none',
        reason: `no DFM_ASSETS_DIR set and no pnpm-workspace.yaml above ${from}. Set DFM_ASSETS_DIR to the assets folder.`,
      };
    }
    dir = resolve(root, '..', 'shared', 'assets');
    source = 'workspace';
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return {
      dir,
      found: false,
      source,
      reason: `assets folder ${dir} (from ${source}) does not exist. Set DFM_ASSETS_DIR to the folder holding weights/ and data/.`,
    };
  }
  const missing = require.filter((relative) => !existsSync(join(dir, relative)));
  if (missing.length > 0) {
    return {
      dir,
      found: false,
      source,
      reason: `assets folder ${dir} (from ${source}) lacks ${missing.join(', ')}. Point DFM_ASSETS_DIR at a complete copy.`,
    };
  }
  return { dir, found: true, source, reason: '' };
}
