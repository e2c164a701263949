#!/usr/bin/env node
/**
 * The packaging check: what an npm user gets from the packed @dfm/* tarballs. Run it after a
 * build (`pnpm test:packaging` builds first). Needs the npm registry (it installs tfjs-core,
 * sharp and onnxruntime-node, ~100 MB the first time, then from npm's cache).
 *
 * 1. `pnpm pack` every publishable package (workspace:* becomes the version; @dfm/cli's prepack
 *    copies the user docs); each tarball has LICENSE, README.md, no workspace: range, the files
 *    its main/types/exports/bin name, and tfjs-core as a peer (a regular dependency of @dfm/cli only).
 * 2. Project "app": its own @tensorflow/tfjs-core 4.22.0 plus every tarball
 *    (onnxruntime-node-install=skip in its .npmrc): exactly one tfjs-core copy; each package loads
 *    with import() and with require(); `auto` picks the optional onnxruntime-node.
 * 3. Project "cli": `npm install @dfm/cli` alone (the other @dfm/* come from the tarballs through
 *    `overrides`, standing in for the registry) with onnxruntime-node's install script allowed to
 *    run and no skip setting: offline it fails (it downloads CUDA parts from api.nuget.org), npm
 *    drops the optional dependency, and `dfm --help`, `dfm train` and `dfm predict` still run, on tfjs;
 *    `dfm export` writes its folder from the files the tarball carries (dist/browser/), and
 *    `dfm export --export-type onnx` its model.onnx (no onnxruntime needed).
 *
 * Prints a summary; exits 1 when a check fails (the temp folder is then kept for a look).
 * Usage: node scripts/check-packaging.mjs [--keep]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const TFJS_CORE = '@tensorflow/tfjs-core';
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const started = Date.now();

const work = mkdtempSync(join(tmpdir(), 'dfm-packaging-'));
const results = [];
const timings = [];
const notes = [];

function check(name, ok, detail = '') {
  results.push({ name, ok: Boolean(ok), detail });
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}\n`);
  return Boolean(ok);
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The environment of the npm projects: no npm_* variables inherited from `pnpm run` (pnpm passes
 * the repository's .npmrc, onnxruntime-node-install=skip among them), no ONNXRUNTIME_NODE_INSTALL. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && !/^ONNXRUNTIME_NODE_INSTALL/i.test(key)),
);

function run(command, args, { cwd = root, env = process.env, timeout = 5 * 60_000 } = {}) {
  const t0 = Date.now();
  const child = spawnSync(command, args, { cwd, env, timeout, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Date.now() - t0;
  const status = child.error ? `${child.error.code ?? child.error.message}` : child.signal ? `signal ${child.signal}` : child.status;
  return { ok: status === 0, status, stdout: child.stdout ?? '', stderr: child.stderr ?? '', ms };
}

function lastLines(text, n = 8) {
  return text.trim().split('\n').slice(-n).join('\n');
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** The paths a package.json points into (main, module, types, exports, bin). */
function entryFiles(pkg) {
  const found = new Set();
  const visit = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./')) found.add(value.slice(2));
    } else if (value && typeof value === 'object') {
      for (const inner of Object.values(value)) visit(inner);
    }
  };
  visit([pkg.main, pkg.module, pkg.types, pkg.exports, pkg.bin].map((v) => (typeof v === 'string' && !v.startsWith('./') ? `./${v}` : v)));
  return [...found].filter((path) => !path.includes('*'));
}

/** npm ls for tfjs-core: the tree as printed, the distinct folders, the versions. */
function tfjsCoreCopies(cwd) {
  const tree = run('npm', ['ls', TFJS_CORE, '--all'], { cwd, env: cleanEnv });
  const parseable = run('npm', ['ls', TFJS_CORE, '--all', '--parseable'], { cwd, env: cleanEnv });
  const json = run('npm', ['ls', TFJS_CORE, '--all', '--json'], { cwd, env: cleanEnv });
  const versions = new Set();
  const walk = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (name === TFJS_CORE && child.version) versions.add(child.version);
      walk(child);
    }
  };
  try {
    walk(JSON.parse(json.stdout));
  } catch {
    versions.add('(npm ls --json did not parse)');
  }
  const folders = [...new Set(parseable.stdout.split('\n').filter((line) => line.includes('tfjs-core')))];
  return { ok: tree.ok, tree: tree.stdout.trim(), folders, versions: [...versions] };
}

/** The @dfm/* entries of a package-lock.json: every one from a tarball of ours, none nested. */
function checkLockfile(project, label, expected) {
  const lock = readJson(join(project, 'package-lock.json'));
  const dfm = Object.entries(lock.packages ?? {}).filter(([location]) => /(^|\/)node_modules\/@dfm\//.test(location));
  const foreign = dfm.filter(([, entry]) => !String(entry.resolved ?? '').startsWith('file:'));
  const nested = dfm.filter(([location]) => !/^node_modules\/@dfm\/[^/]+$/.test(location));
  check(
    `${label}: the ${expected} @dfm packages installed once each, all from the packed tarballs`,
    dfm.length === expected && foreign.length === 0 && nested.length === 0,
    `${dfm.length} entries${foreign.length ? `; not from a tarball: ${foreign.map(([l]) => l).join(', ')}` : ''}${nested.length ? `; nested: ${nested.map(([l]) => l).join(', ')}` : ''}`,
  );
}

// ── 1. Pack ──────────────────────────────────────────────────────────────────────────────────
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);
const packages = readdirSync(join(root, 'packages'))
  .sort()
  .map((folder) => ({ folder, dir: join(root, 'packages', folder) }))
  .filter(({ dir }) => existsSync(join(dir, 'package.json')))
  .map((entry) => ({ ...entry, source: readJson(join(entry.dir, 'package.json')) }))
  .filter(({ source }) => !source.private);

const t0 = Date.now();
for (const pkg of packages) {
  const name = pkg.source.name;
  const packed = run('pnpm', ['pack', '--json', '--pack-destination', tarballDir], { cwd: pkg.dir });
  const start = packed.stdout.search(/^\{/m);
  let info;
  try {
    info = JSON.parse(packed.stdout.slice(start));
  } catch {
    check(`${name}: pnpm pack`, false, `exit ${packed.status}: ${lastLines(packed.stderr || packed.stdout)}`);
    continue;
  }
  pkg.tarball = info.filename;
  const unpacked = join(work, 'unpacked', pkg.folder);
  mkdirSync(unpacked, { recursive: true });
  run('tar', ['-xzf', pkg.tarball, '-C', unpacked]);
  const files = run('tar', ['-tzf', pkg.tarball]).stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const manifest = readJson(join(unpacked, 'package', 'package.json'));
  const license = existsSync(join(unpacked, 'package', 'LICENSE')) ? readFileSync(join(unpacked, 'package', 'LICENSE'), 'utf8') : '';
  const missingEntries = entryFiles(manifest).filter((file) => !files.includes(file));
  const workspaceRanges = JSON.stringify(manifest).includes('workspace:');
  const links = [manifest.repository?.url, manifest.homepage, manifest.bugs?.url].every((v) => typeof v === 'string' && /^(git\+)?https:\/\//.test(v));
  check(
    `${name}: tarball has LICENSE (Apache-2.0), README.md, its entry files, repository/homepage/bugs, no workspace: range`,
    /Apache License\s+Version 2\.0/.test(license) && files.includes('README.md') && manifest.license === 'Apache-2.0' && missingEntries.length === 0 && !workspaceRanges && links,
    `${files.length} files, ${(info.files ?? []).length} listed by pnpm${missingEntries.length ? `; missing ${missingEntries.join(', ')}` : ''}${workspaceRanges ? '; workspace: range left' : ''}${links ? '' : '; repository/homepage/bugs missing'}${license ? '' : '; no LICENSE'}`,
  );
  const usesTfjs = [manifest.dependencies, manifest.peerDependencies].some((deps) => deps?.[TFJS_CORE]);
  if (usesTfjs) {
    const isApp = name === '@dfm/cli';
    check(
      `${name}: ${TFJS_CORE} is ${isApp ? 'a regular dependency (an application: npm i @dfm/cli works alone)' : 'a peer dependency, not a regular one'}`,
      isApp ? manifest.dependencies?.[TFJS_CORE] : manifest.peerDependencies?.[TFJS_CORE] && !manifest.dependencies?.[TFJS_CORE],
      `dependencies ${manifest.dependencies?.[TFJS_CORE] ?? '-'}, peerDependencies ${manifest.peerDependencies?.[TFJS_CORE] ?? '-'}`,
    );
  }
  if (name === '@dfm/cli') {
    const docs = files.filter((f) => f.startsWith('docs/'));
    check(
      '@dfm/cli: ships the user docs (docs/*.md, not docs/api) and an ESM-only build',
      docs.includes('docs/cli.md') && !docs.some((f) => f.startsWith('docs/api/')) && !files.some((f) => f.endsWith('.cjs')),
      `${docs.length} docs pages`,
    );
  }
  if (name === '@dfm/backbone') {
    check('@dfm/backbone: onnxruntime-node is an optional dependency', manifest.optionalDependencies?.['onnxruntime-node'] && !manifest.peerDependencies?.['onnxruntime-node'], `optionalDependencies ${JSON.stringify(manifest.optionalDependencies ?? {})}`);
  }
}
timings.push(['pack', Date.now() - t0]);
const packedOk = packages.every((pkg) => pkg.tarball);
const tarballOf = (name) => `file:${packages.find((pkg) => pkg.source.name === name).tarball}`;

// ── 2. An app with its own tfjs-core and every tarball ───────────────────────────────────────
if (packedOk) {
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify(
      {
        name: 'packaging-check-app',
        private: true,
        type: 'module',
        dependencies: { [TFJS_CORE]: '4.22.0', ...Object.fromEntries(packages.map((pkg) => [pkg.source.name, tarballOf(pkg.source.name)])) },
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
  const install = run('npm', ['install', '--no-audit', '--no-fund'], { cwd: app, env: cleanEnv, timeout: INSTALL_TIMEOUT_MS });
  writeFileSync(join(work, 'app-install.log'), `${install.stdout}\n${install.stderr}`);
  timings.push(['app: npm install (tfjs-core 4.22.0 + all tarballs)', install.ms]);
  if (check('app: npm install of tfjs-core 4.22.0 and all the tarballs', install.ok, `exit ${install.status} in ${seconds(install.ms)}${install.ok ? '' : `: ${lastLines(install.stderr)}`}`)) {
    checkLockfile(app, 'app', packages.length);
    const copies = tfjsCoreCopies(app);
    process.stdout.write(`\napp: npm ls ${TFJS_CORE} --all\n${copies.tree}\n\n`);
    check(
      `app: exactly one ${TFJS_CORE} (the app's, every @dfm package deduped onto it)`,
      copies.ok && copies.folders.length === 1 && copies.versions.length === 1 && copies.versions[0] === '4.22.0',
      `${copies.folders.length} folder(s): ${copies.folders.map((f) => f.replace(`${app}/`, '')).join(', ')}; version(s) ${copies.versions.join(', ')}${copies.ok ? '' : '; npm ls reported a problem'}`,
    );
    const names = packages.map((pkg) => pkg.source.name);
    const esm = run('node', ['--input-type=module', '-e', `
      const out = {};
      for (const name of ${JSON.stringify(names)}) {
        try { const m = await import(name); out[name] = Object.keys(m).length; } catch (e) { out[name] = String(e.message).split('\\n')[0]; }
      }
      console.log(JSON.stringify(out));`], { cwd: app, env: cleanEnv });
    const cjs = run('node', ['-e', `
      const out = {};
      for (const name of ${JSON.stringify(names)}) {
        try { out[name] = Object.keys(require(name)).length; } catch (e) { out[name] = String(e.message).split('\\n')[0]; }
      }
      console.log(JSON.stringify(out));`], { cwd: app, env: cleanEnv });
    for (const [how, result] of [['import()', esm], ['require()', cjs]]) {
      let loaded = {};
      try {
        loaded = JSON.parse(result.stdout.trim().split('\n').pop());
      } catch {}
      for (const name of names) {
        const value = loaded[name];
        check(`app: ${how} of ${name}`, typeof value === 'number' && value > 0, typeof value === 'number' ? `${value} exports` : String(value ?? lastLines(result.stderr, 3)));
      }
    }
    const ort = run('node', ['--input-type=module', '-e', "const { selectRuntime } = await import('@dfm/backbone'); console.log(JSON.stringify(await selectRuntime('auto')));"], { cwd: app, env: cleanEnv });
    let selected = {};
    try {
      selected = JSON.parse(ort.stdout.trim().split('\n').pop());
    } catch {}
    check("app: the optional onnxruntime-node is installed and runtime 'auto' picks it", selected.runtime === 'onnxruntime', selected.reason ?? lastLines(ort.stderr, 3));
  }
}

// ── 3. npm install @dfm/cli where onnxruntime-node's install step fails ──────────────────────
if (packedOk) {
  const project = join(work, 'cli');
  mkdirSync(project);
  const cli = packages.find((pkg) => pkg.source.name === '@dfm/cli');
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify(
      {
        name: 'packaging-check-cli',
        private: true,
        dependencies: { '@dfm/cli': tarballOf('@dfm/cli') },
        // The registry stand-in: @dfm/cli's @dfm dependencies come from the tarballs.
        overrides: Object.fromEntries(packages.filter((pkg) => pkg !== cli).map((pkg) => [pkg.source.name, tarballOf(pkg.source.name)])),
        // npm 11 runs no dependency install script unless allowed; npm 10 runs them all. Allowed
        // here so onnxruntime-node's postinstall runs as it does for most users.
        allowScripts: { 'onnxruntime-node': true },
      },
      null,
      2,
    )}\n`,
  );
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=verbose'], {
    cwd: project,
    env: cleanEnv,
    timeout: INSTALL_TIMEOUT_MS,
  });
  const log = `${install.stdout}\n${install.stderr}`;
  writeFileSync(join(work, 'cli-install.log'), log);
  timings.push(['cli: npm install @dfm/cli (onnxruntime-node install script runs)', install.ms]);
  if (check('cli: npm install @dfm/cli', install.ok, `exit ${install.status} in ${seconds(install.ms)}${install.ok ? '' : `: ${lastLines(install.stderr)}`}`)) {
    checkLockfile(project, 'cli', packages.length);
    const ortPresent = existsSync(join(project, 'node_modules', 'onnxruntime-node', 'package.json'));
    const lines = log.split('\n');
    const dropped = lines.filter((line) => /failed optional dependency .*\/onnxruntime-node$/.test(line));
    const postinstall = lines.filter((line) => /onnxruntime-node@\S+ postinstall \{ code/.test(line));
    const scriptStart = lines.findIndex((line) => /^> onnxruntime-node@\S+ postinstall/.test(line));
    const scriptEnd = lines.findIndex((line) => /onnxruntime-node@\S+ postinstall \{ code/.test(line));
    const scriptError = scriptStart >= 0 && scriptEnd > scriptStart ? lines.slice(scriptStart, scriptEnd).filter((line) => /^\s*\w*Error: /.test(line)).slice(0, 1) : [];
    process.stdout.write(`cli: what npm reported about onnxruntime-node\n${[...postinstall, ...scriptError, ...dropped].map((l) => `  ${l.trim()}`).join('\n')}\n\n`);
    if (ortPresent) {
      notes.push("onnxruntime-node's install step succeeded here (a machine that reaches api.nuget.org, or npm skipped the script): the fallback to tfjs was not exercised");
    } else {
      check("cli: onnxruntime-node's install step failed and npm dropped the optional dependency", postinstall.length > 0 && dropped.length > 0, dropped[0]?.trim() ?? 'no "failed optional dependency" line in the log');
    }
    const expectedRuntime = ortPresent ? 'onnxruntime' : 'tfjs';
    const copies = tfjsCoreCopies(project);
    check(`cli: one ${TFJS_CORE}`, copies.ok && copies.folders.length === 1, `${copies.folders.length} folder(s), version(s) ${copies.versions.join(', ')}`);

    const help = run('npx', ['--no-install', 'dfm', '--help'], { cwd: project, env: cleanEnv });
    check('cli: npx dfm --help', help.ok && /Usage: dfm/.test(help.stdout), `exit ${help.status}: ${help.stdout.split('\n')[0]}`);

    // Six small PNGs (64 px), written with the sharp that @dfm/data brought.
    const images = join(project, 'images');
    const make = run('node', ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      import { mkdirSync } from 'node:fs';
      const sharp = createRequire(process.cwd() + '/node_modules/@dfm/data/package.json')('sharp');
      mkdirSync(${JSON.stringify(images)}, { recursive: true });
      for (let i = 0; i < 6; i++) {
        const size = 64, px = new Uint8Array(size * size * 3);
        for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = (7 * x + 13 * y + 29 * c + 17 * i) % 256;
        await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(${JSON.stringify(images)} + '/good-' + i + '.png');
      }`], { cwd: project, env: cleanEnv });
    check('cli: six 64 px PNGs written with the installed sharp', make.ok, make.ok ? '' : lastLines(make.stderr, 3));

    const trainArgs = ['train', '--format', 'folder', '--normal-dir', images, '--backbone', 'resnet18', '--weights', 'random', '--image-size', '64', '--pca-level', '2', '--results-dir', join(project, 'results'), '--json'];
    const train = run('npx', ['--no-install', 'dfm', ...trainArgs], { cwd: project, env: cleanEnv });
    timings.push(['cli: dfm train', train.ms]);
    let doc = {};
    try {
      doc = JSON.parse(train.stdout);
    } catch {}
    const runtimeUsed = doc.config?.runtimeUsed ?? doc.config?.engineUsed;
    process.stdout.write(`cli: dfm ${trainArgs.join(' ').replaceAll(`${project}/`, '')}\n${train.stderr.trim().split('\n').map((l) => `  ${l}`).join('\n')}\n  → exit ${train.status}, model ${doc.model ?? '-'}, backend ${doc.config?.backendUsed ?? '-'}, runtime ${runtimeUsed ?? '-'}\n\n`);
    check(`cli: dfm train (resnet18, random weights, 64 px) exits 0 and ran on ${expectedRuntime}`, train.ok && doc.trainSamples === 6 && runtimeUsed === expectedRuntime, `exit ${train.status} in ${seconds(train.ms)}, runtime ${runtimeUsed ?? '-'}, backend ${doc.config?.backendUsed ?? '-'}${train.ok ? '' : `: ${lastLines(train.stderr, 3)}`}`);

    if (doc.model) {
      const predict = run('npx', ['--no-install', 'dfm', 'predict', '--model', doc.model, '--input', images, '--json'], { cwd: project, env: cleanEnv });
      let predicted = {};
      try {
        predicted = JSON.parse(predict.stdout);
      } catch {}
      check('cli: dfm predict with the saved model scores the six images', predict.ok && predicted.predictions?.length === 6, `exit ${predict.status}${predict.ok ? '' : `: ${lastLines(predict.stderr, 3)}`}`);

      // dfm export copies dfm.js and the runtimes' files from the tarball's dist/browser/ (built
      // with esbuild at pack time; nothing is bundled at run time).
      const exported = join(project, 'exported');
      const exportRun = run('npx', ['--no-install', 'dfm', 'export', '--model', doc.model, '--out', exported, '--json'], { cwd: project, env: cleanEnv });
      let manifest = {};
      try {
        manifest = JSON.parse(exportRun.stdout).manifest ?? {};
      } catch {}
      const listed = manifest.files ? [manifest.files.model, manifest.files.script, ...(manifest.files.wasm ?? []), manifest.files.page, manifest.files.readme] : [];
      const missing = listed.filter((file) => !file || !existsSync(join(exported, file.path))).map((file) => file?.path ?? '?');
      check(
        'cli: dfm export writes model.dfm, dfm.js, the runtimes\' .wasm, index.html, README.md and manifest.json',
        exportRun.ok && listed.length >= 6 && missing.length === 0 && manifest.files.weights === null,
        `exit ${exportRun.status}, ${listed.length} files listed${missing.length > 0 ? `, missing ${missing.join(', ')}` : ''}${exportRun.ok ? '' : `: ${lastLines(exportRun.stderr, 3)}`}`,
      );

      // The ONNX export needs no onnxruntime (it only builds and encodes the graph with onnx-proto).
      const onnxDir = join(project, 'exported-onnx');
      const onnxRun = run('npx', ['--no-install', 'dfm', 'export', '--model', doc.model, '--export-type', 'onnx', '--out', onnxDir, '--json'], { cwd: project, env: cleanEnv });
      let onnxMetadata = {};
      try {
        onnxMetadata = JSON.parse(onnxRun.stdout).metadata ?? {};
      } catch {}
      const onnxFiles = ['model.onnx', 'metadata.json', 'README.md'].filter((file) => existsSync(join(onnxDir, file)));
      check(
        'cli: dfm export --export-type onnx writes model.onnx (opset 17), metadata.json and README.md without onnxruntime',
        onnxRun.ok && onnxFiles.length === 3 && onnxMetadata.model?.opset === 17,
        `exit ${onnxRun.status}, files ${onnxFiles.join(', ') || 'none'}${onnxRun.ok ? `, model.onnx ${onnxMetadata.model?.bytes} bytes` : `: ${lastLines(onnxRun.stderr, 3)}`}`,
      );
    }
  }
}

// ── Summary ──────────────────────────────────────────────────────────────────────────────────
const failed = results.filter((r) => !r.ok);
const total = Date.now() - started;
process.stdout.write('packaging check\n');
for (const r of results) process.stdout.write(`  ${r.ok ? '✓' : '✗'} ${r.name}${r.detail ? ` (${r.detail})` : ''}\n`);
for (const note of notes) process.stdout.write(`  note: ${note}\n`);
process.stdout.write(`timings: ${timings.map(([what, ms]) => `${what} ${seconds(ms)}`).join('; ')}; total ${seconds(total)}\n`);
if (failed.length > 0 || keep) {
  process.stdout.write(`temp folder kept: ${work} (npm logs: app-install.log, cli-install.log)\n`);
} else {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(failed.length === 0 ? `packaging check: all ${results.length} checks passed\n` : `packaging check: ${failed.length} of ${results.length} checks FAILED\n`);
process.exit(failed.length === 0 ? 0 : 1);
