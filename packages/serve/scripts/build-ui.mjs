/**
 * Builds the service's web page into dist/ui/: src/ui/app.ts bundled by esbuild into one minified
 * ES module for browsers (app.js + app.js.map), index.html and style.css copied beside it.
 * Run after tsup (`pnpm build`); exits 1 on any esbuild warning or error.
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, formatMessages } from 'esbuild';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageDir, 'src', 'ui');
const out = join(packageDir, 'dist', 'ui');

async function report(messages, kind) {
  if (messages.length === 0) return;
  const text = await formatMessages(messages, { kind, color: process.stderr.isTTY === true });
  process.stderr.write(text.join(''));
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let result;
try {
  result = await build({
    absWorkingDir: packageDir,
    entryPoints: [join(source, 'app.ts')],
    outfile: join(out, 'app.js'),
    tsconfig: join(source, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years (2021+): what the page's syntax and DOM calls need.
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4', 'edge100'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    metafile: true,
  });
} catch (error) {
  // esbuild's BuildFailure carries the errors (and any warnings) as messages.
  await report(error.warnings ?? [], 'warning');
  await report(error.errors ?? [], 'error');
  if (!error.errors) process.stderr.write(`build-ui: ${error.message ?? error}\n`);
  process.stderr.write('build-ui: esbuild failed to bundle src/ui/app.ts (see above).\n');
  process.exit(1);
}
if (result.warnings.length > 0) {
  await report(result.warnings, 'warning');
  process.stderr.write(`build-ui: esbuild reported ${result.warnings.length} warning(s); fix them (warnings fail the build).\n`);
  process.exit(1);
}
for (const file of ['index.html', 'style.css']) copyFileSync(join(source, file), join(out, file));
const listing = ['app.js', 'app.js.map', 'index.html', 'style.css']
  .map((file) => `${relative(packageDir, join(out, file))} ${(statSync(join(out, file)).size / 1024).toFixed(1)} kB`)
  .join(', ');
process.stdout.write(`build-ui: ${listing}\n`);
