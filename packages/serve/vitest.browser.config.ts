import { defineConfig } from 'vitest/config';
import { dfmAliases } from '../../vitest.shared';

// The real-browser test of the service's web page (pnpm test:browser): opt-in, apart from
// vitest.config.ts, whose `pnpm test` never includes test/browser/*.e2e.ts.
export default defineConfig({
  resolve: { alias: dfmAliases },
  test: {
    name: '@dfm/serve (chromium)',
    include: ['test/browser/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
