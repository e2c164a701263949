import { defineConfig } from 'vitest/config';
import { dfmAliases } from '../../vitest.shared';

// The real-browser test (pnpm test:browser): opt-in, so apart from the package's vitest.config.ts,
// whose `pnpm test` never includes test/browser/*.e2e.ts.
export default defineConfig({
  resolve: { alias: dfmAliases },
  test: {
    name: '@dfm/linalg (chromium)',
    include: ['test/browser/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
