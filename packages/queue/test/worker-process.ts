/**
 * A worker in a process of its own (for the tests that kill one): `tsx test/worker-process.ts` with
 * DFM_TEST_WORKER = JSON ScoringWorkerOptions. Prints "ready <pid>" once taking jobs; SIGTERM closes it
 * gracefully (exit 0).
 */
import { createScoringWorker, type ScoringWorkerOptions } from '../src/index';

const options = JSON.parse(process.env.DFM_TEST_WORKER ?? '{}') as ScoringWorkerOptions;
const worker = await createScoringWorker({
  ...options,
  onEvent: (event) => {
    if (event.type === 'error') process.stderr.write(`worker ${process.pid}: ${event.error.message}\n`);
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
