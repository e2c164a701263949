/**
 * A worker in a process of its own (for the tests that kill one): `tsx test/worker-process.ts` with
 * DFM_TEST_WORKER = JSON ScoringWorkerOptions. Prints "ready <pid>" once taking jobs; SIGTERM closes it
 * gracefully (exit 0).
 */
import { createScoringWorker, type ScoringWorkerOptions } from '../src/index';

const options = JSON.parse(process.env.DFM_TEST_WORKER ?? '{}') as ScoringWorkerOptions;
let lastError = '';
const worker = await createScoringWorker({
  ...options,
  onEvent: (event) => {
    // While Redis is down every reconnect attempt fails alike: say it once.
    if (event.type === 'error' && event.error.message !== lastError) process.stderr.write(`worker ${process.pid}: ${event.error.message}\n`);
    if (event.type === 'error') lastError = event.error.message;
  },
});
await worker.waitUntilReady();
process.stdout.write(`ready ${process.pid}\n`);
process.on('SIGTERM', () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
