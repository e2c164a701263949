#!/usr/bin/env node
/**
 * Copies the user docs (the repository's docs/*.md, not the generated docs/api/) into a package
 * folder so they ship in its tarball: @dfm/cli's `prepack` runs `node ../../scripts/copy-user-docs.mjs docs`.
 * Links between the copied pages stay relative; links that leave docs/ (../packages/…, ../examples/…)
 * become absolute GitHub URLs, so they resolve for an npm user too.
 *
 * Usage: node scripts/copy-user-docs.mjs <destination folder, relative to the current directory>
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPOSITORY = 'https://github.com/dfm-ts/dfm';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'docs');

const destination = process.argv[2];
if (destination === undefined) {
  process.stderr.write('copy-user-docs: usage: node scripts/copy-user-docs.mjs <destination folder>\n');
  process.exit(2);
}
const target = resolve(destination);

const pages = readdirSync(source).filter((name) => name.endsWith('.md')).sort();
const shipped = new Set(pages);

/** A link target of docs/<page>, as the copy should spell it. */
function rewrite(href) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#')) return href; // URL, mailto:, anchor
  const [path, anchor = ''] = href.split(/(?=#)/);
  const inRepo = posix.normalize(posix.join('docs', path));
  if (inRepo.startsWith('docs/') && shipped.has(inRepo.slice('docs/'.length))) return href; // a shipped sibling
  const onDisk = join(root, ...inRepo.split('/'));
  const kind = existsSync(onDisk) && statSync(onDisk).isDirectory() ? 'tree' : 'blob';
  return `${REPOSITORY}/${kind}/main/${inRepo}${anchor}`;
}

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const page of pages) {
  const text = readFileSync(join(source, page), 'utf8');
  writeFileSync(join(target, page), text.replace(/\]\(([^)\s]+)\)/g, (_, href) => `](${rewrite(href)})`));
}
process.stdout.write(`copy-user-docs: ${pages.length} pages → ${relative(process.cwd(), target) || '.'}\n`);
