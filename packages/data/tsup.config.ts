import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    // Browser-safe pixel arithmetic (no sharp): the subpath @dfm/data/pixels.
    pixels: 'src/pixels.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
