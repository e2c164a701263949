import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from './errors';
import type { CommandName } from './options';

/** A path the user gave, with the flag that gave it. */
export interface NamedPath {
  /** The flag that gave it, e.g. `--input`. */
  flag: string;
  /** The path as given. */
  path: string;
}

/**
 * The real path of `path` (absolute, symlinks resolved), also for a path that does not exist yet:
 * its longest existing ancestor is resolved and the rest appended.
 */
export function realPath(path: string): string {
  let existing = resolve(path);
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(basename(existing));
    existing = parent;
  }
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // unreadable: compare the resolved path
  }
  return rest.length === 0 ? real : join(real, ...rest);
}

/** True when `path` is `folder` or lies inside it (both already absolute and real). */
export function isSameOrInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/** `--input photos/ (/work/photos)`: the flag, the path as given, and where it really is. */
function shown(named: NamedPath, real: string): string {
  return `${named.flag} ${named.path}${real === named.path ? '' : ` (${real})`}`;
}

/**
 * Refuses (exit 2, `E_OUTPUT_INSIDE_INPUT`) an output that is, or lies inside, one of `inputs`
 * (so nothing is written into a data or input folder), and, with `containing`, an output folder
 * that holds one of them. Paths are compared after resolving symlinks.
 */
export function refuseOutputOverInputs(
  command: CommandName,
  output: NamedPath,
  inputs: readonly NamedPath[],
  options: { containing?: readonly NamedPath[]; fix: string },
): void {
  const out = realPath(output.path);
  for (const input of inputs) {
    const real = realPath(input.path);
    if (isSameOrInside(out, real)) {
      throw new UsageError(
        `dfm ${command}: ${output.flag} must lie outside the inputs — ${shown(output, out)} ${out === real ? 'is' : 'is inside'} ${shown(input, real)}. ${options.fix}`,
        { code: 'E_OUTPUT_INSIDE_INPUT' },
      );
    }
  }
  for (const input of options.containing ?? []) {
    const real = realPath(input.path);
    if (isSameOrInside(real, out)) {
      throw new UsageError(
        `dfm ${command}: ${output.flag} must not hold the inputs — ${shown(output, out)} contains ${shown(input, real)}. ${options.fix}`,
        { code: 'E_OUTPUT_INSIDE_INPUT' },
      );
    }
  }
}
