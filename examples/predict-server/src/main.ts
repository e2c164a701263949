/**
 * Serves a saved model with the line's station routes:
 *   pnpm --filter @example/predict-server start <model.dfm> [port]
 *   curl -H 'content-type: image/png' --data-binary @frame.png http://127.0.0.1:8080/stations/A/frames
 * (Everything of `dfm serve` is there too: /v1/predict, /metrics, the page at /.)
 */
import { createStationServer } from './station-server';

const [model, port = '8080'] = process.argv.slice(2);
if (model === undefined) {
  process.stderr.write('usage: start <model.dfm> [port]\n');
  process.exit(2);
}
const app = await createStationServer({ model, port: Number(port), token: process.env.DFM_SERVE_TOKEN, pixelLimit: 40_000_000 });
process.stderr.write(`stations on ${await app.dfm.listen()}/stations (model ${app.dfm.model.id})\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close());
