/**
 * Child process for the interrupted-write tests: `loop` overwrites `target` with the payloads in
 * turn, forever, until it is killed; `once` writes the first payload once and reports the outcome
 * on stdout as JSON (used under `ulimit -f` to simulate a full disk).
 * Usage: node --import tsx atomic-write-child.ts loop|once <target> <payload>...
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/write-file-atomic';

const [mode, target, ...files] = process.argv.slice(2) as [string, string, ...string[]];
const payloads = files.map((file) => readFileSync(file));
if (mode === 'once') {
  try {
    writeFileAtomic(target, payloads[0] as Buffer);
    process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
  } catch (error) {
    const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
    process.stdout.write(`${JSON.stringify({ ok: false, name: (error as Error).name, message: (error as Error).message, code: cause?.code })}\n`);
  }
} else {
  process.stdout.write('ready\n');
  for (let i = 0; ; i += 1) writeFileAtomic(target, payloads[i % payloads.length] as Buffer);
}
