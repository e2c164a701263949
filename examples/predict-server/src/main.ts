/**
 * Serves a saved model:  pnpm --filter @example/predict-server start <model.dfm> [port] [--weights FILE]
 * then:  curl -H 'content-type: image/png' --data-binary @part.png http://127.0.0.1:8080/predict
 */
import { parseArgs } from 'node:util';
import { setBackend } from '@dfm/backbone';
import { Dfm } from '@dfm/lightning-like';
import { createPredictServer } from './predict-server';

const { values, positionals } = parseArgs({ options: { weights: { type: 'string' } }, allowPositionals: true });
const [modelPath, port = '8080'] = positionals;
if (modelPath === undefined) {
  process.stderr.write('usage: start <model.dfm> [port] [--weights FILE]\n');
  process.exit(2);
}
await setBackend();
const model = await Dfm.load(modelPath, values.weights !== undefined ? { weights: values.weights, visualizer: false } : { visualizer: false });
const server = createPredictServer({ model });
server.listen(Number(port), '127.0.0.1', () => process.stderr.write(`scoring on http://127.0.0.1:${port}/predict\n`));
