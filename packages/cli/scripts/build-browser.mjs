#!/usr/bin/env node
/**
 * Builds dist/browser/, the files `dfm export` copies into every export folder (run by `pnpm build`
 * after tsup; `dfm export` itself only copies, so the CLI needs no esbuild at run time):
 *
 * - `dfm.js`: src/browser/dfm.js bundled by esbuild for the browser: @dfm/core's Detector with
 *   @tensorflow/tfjs-core, tfjs-backend-wasm and onnxruntime-web (its wasm-only build, the wasm module left outside) inside, one
 *   ES module with no import left for the browser to resolve and no Node built-in;
 * - the runtimes' `.wasm` files (and onnxruntime-web's `.mjs` that loads its own), which dfm.js
 *   fetches from its own folder;
 * - `index.html`: the page (src/browser/index.html);
 * - `browser-files.json`: what is what (`dfm export` reads it; the manifest's `files` follow it).
 *
 * Fails (exit 1) when the bundle has an error, a warning, an external import or a Node built-in.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const source = join(packageDir, 'src/browser');
const out = join(packageDir, 'dist/browser');
const require = createRequire(join(source, 'dfm.js'));

/** A folder of a package (resolved from the entry, as the bundle resolves it) and the package's version. */
function packageInfo(name, folder) {
  // Not require.resolve(`${name}/package.json`): onnxruntime-web's exports do not list it.
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const packageJson = join(dir, 'package.json');
    if (existsSync(packageJson) && JSON.parse(readFileSync(packageJson, 'utf8')).name === name) {
      return { dir: join(dir, folder), version: JSON.parse(readFileSync(packageJson, 'utf8')).version };
    }
  }
  throw new Error(`build-browser: cannot find the package.json of ${name} above ${require.resolve(name)}`);
}

const ortWeb = packageInfo('onnxruntime-web', 'dist');
const tfjsWasm = packageInfo('@tensorflow/tfjs-backend-wasm', 'dist');
const tfjsCore = packageInfo('@tensorflow/tfjs-core', 'dist');
// onnxruntime-web/wasm built for an external wasm module (ort.wasm.min.mjs) imports this .mjs and
// fetches this .wasm (CPU, SIMD; threads when the page is cross-origin isolated, its workers started
// from the .mjs); tfjs-backend-wasm fetches one of its three.
const runtimeFiles = [
  { from: join(ortWeb.dir, 'ort-wasm-simd-threaded.mjs'), runtime: 'onnxruntime-web' },
  { from: join(ortWeb.dir, 'ort-wasm-simd-threaded.wasm'), runtime: 'onnxruntime-web' },
  { from: join(tfjsWasm.dir, 'tfjs-backend-wasm.wasm'), runtime: 'tfjs-backend-wasm' },
  { from: join(tfjsWasm.dir, 'tfjs-backend-wasm-simd.wasm'), runtime: 'tfjs-backend-wasm' },
  { from: join(tfjsWasm.dir, 'tfjs-backend-wasm-threaded-simd.wasm'), runtime: 'tfjs-backend-wasm' },
];

const started = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(source, 'dfm.js')],
  outfile: join(out, 'dfm.js'),
  bundle: true,
  platform: 'browser',
  // onnxruntime-web's build without its wasm module inlined: the module is the .mjs beside dfm.js.
  conditions: ['onnxruntime-web-use-extern-wasm', 'module'],
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'silent',
  banner: {
    js: `// dfm.js: @dfm/core's Detector for the browser, with @tensorflow/tfjs-core ${tfjsCore.version}, @tensorflow/tfjs-backend-wasm ${tfjsWasm.version} and onnxruntime-web ${ortWeb.version} bundled in (licences at the end). Written by @dfm/cli's build; see README.md beside it.`,
  },
}).catch((error) => {
  process.stderr.write(`build-browser: esbuild failed:\n${(error.errors ?? [error]).map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text ?? e.message}`).join('\n')}\n`);
  process.exit(1);
});

const problems = result.warnings.map((w) => `warning: ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
const builtins = new Set(builtinModules);
const isBuiltin = (specifier) => specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0]);
for (const output of Object.values(result.metafile.outputs)) {
  for (const i of output.imports) if (i.external) problems.push(`an import is left for the browser to resolve: ${i.kind} ${i.path}`);
}
for (const [file, input] of Object.entries(result.metafile.inputs)) {
  for (const i of input.imports) {
    if (i.path === '<runtime>' || i.path.startsWith('(disabled):')) continue; // esbuild helpers; browser-field stubs
    if (isBuiltin(i.original ?? i.path)) problems.push(`${file} imports the Node built-in ${i.original ?? i.path}`);
  }
}
// A dynamic import of a package name in the output: esbuild folds `const name = '@dfm/data';
// import(name)` into a literal. @dfm/core's Node-only decoding (sharp) is the one expected: it sits
// behind an isNode() check, so a browser never runs it.
const NODE_ONLY_IMPORTS = new Set(['@dfm/data']);
const code = readFileSync(join(out, 'dfm.js'), 'utf8');
for (const [, specifier] of code.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) {
  if (/^(\.{0,2}\/|https?:|data:|blob:)/.test(specifier) || NODE_ONLY_IMPORTS.has(specifier)) continue;
  problems.push(`a dynamic import of a package name is left in the bundle: import("${specifier}")`);
}
if (problems.length > 0) {
  process.stderr.write(`build-browser: dist/browser/dfm.js must be one self-contained browser module:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}

for (const file of runtimeFiles) copyFileSync(file.from, join(out, file.from.split(/[/\\]/).pop()));
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));

const files = {
  script: 'dfm.js',
  wasm: runtimeFiles.map((file) => ({ path: file.from.split(/[/\\]/).pop(), runtime: file.runtime })),
  page: 'index.html',
  versions: {
    '@tensorflow/tfjs-core': tfjsCore.version,
    '@tensorflow/tfjs-backend-wasm': tfjsWasm.version,
    'onnxruntime-web': ortWeb.version,
  },
};
writeFileSync(join(out, 'browser-files.json'), `${JSON.stringify(files, null, 2)}\n`);
const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
process.stderr.write(
  `build-browser: dist/browser/dfm.js ${megabytes(statSync(join(out, 'dfm.js')).size)} + ${runtimeFiles.length} runtime files (.wasm, .mjs) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
