import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    // Internals shared by the @dfm packages (not public API).
    internal: 'src/internal.ts',
    // The worker thread of the tfjs-wasm pool: its own file, found beside index.js via import.meta.url.
    'tfjs-worker': 'src/workers/tfjs-worker.ts',
    // onnxruntime runs in its own thread (its run() blocks the calling thread).
    'onnx-worker': 'src/onnx/onnx-worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // set-backend.ts resolves the optional native packages from import.meta.url, also in the CJS build.
  shims: true,
});
