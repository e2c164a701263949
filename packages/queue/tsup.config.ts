import { defineConfig } from 'tsup';

export default defineConfig({
  // processor.js is the BullMQ sandboxed processor: a file of its own, loaded in worker threads.
  entry: ['src/index.ts', 'src/processor.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
