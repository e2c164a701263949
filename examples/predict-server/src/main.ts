/**
 * Serves a saved model:  pnpm --filter @example/predict-server start <model.dfm> [port] [--weights FILE]
 * then:  curl -H 'content-type: image/png' --data-binary @part.png http://127.0.0.1:8080/predict
 */
import { parseArgs } from 'node:util';
import { loadDetector } from '@dfm/core';
import { createPredictServer } from './predict-server';

const { values, positionals } = parseArgs({ options: { weights: { type: 'string' } }, allowPositionals: true });
const [modelPath, port = '8080'] = positionals;
if (modelPath === undefined) {
  process.stderr.write('usage: start <model.dfm> [port] [--weights FILE]\n');
  process.exit(2);
}
// Uploads above 40 million pixels are refused from their header, before decoding (400).
const detector = await loadDetector(modelPath, { pixelLimit: 40_000_000, ...(values.weights !== undefined ? { weights: values.weights } : {}) });
const server = createPredictServer({ detector });
server.listen(Number(port), '127.0.0.1', () => process.stderr.write(`scoring on http://127.0.0.1:${port}/predict (${detector.info.runtime})\n`));
