/**
 * Shared vitest settings. Every package's `vitest.config.ts` calls `packageProject(name)`;
 * the root `vitest.config.ts` gathers the packages as projects.
 *
 * `@dfm/<pkg>` and `@dfm/<pkg>/<sub>` resolve to the workspace sources, so tests never need a build.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export const dfmAliases = [
  { find: /^@dfm\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
  { find: /^@dfm\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
];

export function packageProject(name: string) {
  return defineConfig({
    resolve: { alias: dfmAliases },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 300_000,
      // Tests share 2 cores with tfjs/wasm work; files run in forked processes one per core.
      pool: 'forks',
      // A JSON report per package lets scripts/test-summary.mjs print one closing line for the repo.
      reporters: ['default', ['json', { outputFile: '.test-reports/vitest.json' }]],
    },
  });
}
