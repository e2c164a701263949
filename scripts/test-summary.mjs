#!/usr/bin/env node
// Sums the per-package vitest JSON reports (packages/*/.test-reports/vitest.json and the
// examples') into one closing line, and names every skipped test. Exit code: 1 if any failed
// or no test ran, else 0.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const skippedNames = [];
const failedNames = [];
const missing = [];
for (const group of ['packages', 'examples']) {
  const groupDir = join(root, group);
  if (!existsSync(groupDir)) continue;
  for (const name of readdirSync(groupDir).sort()) {
    const dir = join(groupDir, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (!pkg.scripts?.test) continue;
    const reportPath = join(dir, '.test-reports', 'vitest.json');
    if (!existsSync(reportPath)) {
      missing.push(pkg.name);
      continue;
    }
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    for (const file of report.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        const where = `${pkg.name} ${relative(dir, file.name)} > ${test.fullName}`;
        if (test.status === 'passed') passed += 1;
        else if (test.status === 'failed') {
          failed += 1;
          failedNames.push(where);
        } else {
          skipped += 1;
          skippedNames.push(where);
        }
      }
      // A file that failed to load has no assertion results but counts as a failure.
      if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
        failed += 1;
        failedNames.push(`${pkg.name} ${relative(dir, file.name)} (failed to load: ${file.message ?? 'no message'})`);
      }
    }
  }
}
for (const name of skippedNames) console.log(`skipped: ${name}`);
for (const name of failedNames) console.log(`FAILED: ${name}`);
for (const name of missing) console.log(`no test report from ${name} (its tests did not run)`);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 || missing.length > 0 ? 1 : 0;
