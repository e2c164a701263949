import { defineConfig } from 'vitest/config';

// Run every package's tests from the root with `pnpm vitest run` (CI uses `pnpm test`, via turbo).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
  },
});
