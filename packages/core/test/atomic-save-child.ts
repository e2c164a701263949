/**
 * Child process for the interrupted-save test: overwrites `target` with the two payloads in turn,
 * forever, through the same atomic writer that DFMModel.save uses, until it is killed.
 * Usage: node --import tsx atomic-save-child.ts <target> <payloadA> <payloadB>
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../backbone/src/write-file-atomic';

const [target, a, b] = process.argv.slice(2) as [string, string, string];
const payloads = [readFileSync(a), readFileSync(b)];
process.stdout.write('ready\n');
for (let i = 0; ; i += 1) writeFileAtomic(target, payloads[i % 2] as Buffer);
