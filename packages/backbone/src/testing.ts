/**
 * Test helpers for suites that need the development assets. Import from `@dfm/backbone/testing`
 * in test files only (it imports vitest).
 */
import { join } from 'node:path';
import { describe } from 'vitest';
import { findAssetsDir } from './assets';

/**
 * Declares a suite that runs only when the assets in `required` exist. When they do not, the
 * suite is skipped and a line naming it and the reason is printed, so a skip is never silent.
 * The callback receives a function resolving paths inside the assets folder.
 */
export function describeWithAssets(
  name: string,
  required: readonly string[],
  body: (asset: (relative: string) => string) => void,
): void {
  const location = findAssetsDir({ require: required });
  if (!location.found) {
    process.stdout.write(`[assets] SKIPPED "${name}": ${location.reason}\n`);
    describe.skip(name, () => body((relative) => relative));
    return;
  }
  const dir = location.dir as string;
  describe(name, () => body((relative) => join(dir, relative)));
}
