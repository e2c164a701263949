import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/bin.ts'],
  // ESM only: the CJS build had an empty import.meta (bench failed there); Node >= 20.19 can require() ESM.
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // A development dependency imported on demand by the bench's service rows: never bundled.
  external: ['autocannon'],
});
