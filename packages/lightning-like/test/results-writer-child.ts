/**
 * Child process for the interrupted-results test: loads a fitted Dfm and runs Engine.test on the
 * same dataset forever (each pass rewrites metrics.json, predictions.csv and the images) until
 * it is killed. Prints `ready` when the first pass starts.
 * Usage: node --import tsx results-writer-child.ts <checkpoint.dfm> <rootDir> <folderOptionsJson>
 */
import { setBackend } from '@dfm/backbone';
import { Folder, type FolderOptions } from '@dfm/data';
import { Dfm } from '../src/dfm';
import { Engine } from '../src/engine';

const [checkpoint, rootDir, optionsJson] = process.argv.slice(2) as [string, string, string];
await setBackend('wasm');
const model = await Dfm.load(checkpoint);
const engine = new Engine({ defaultRootDir: rootDir, checkpoint: false, versioned: false });
const dataset = new Folder(JSON.parse(optionsJson) as FolderOptions);
process.stdout.write('ready\n');
for (;;) await engine.test(model, dataset);
