import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer, type DfmServer } from '@dfm/serve';
import { UsageError } from '../errors';
import { log, warn } from '../io';
import { type CommandContext, selectBackend } from '../setup';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `dfm serve --model M`: the @dfm/serve inspection service in the foreground. SIGTERM / SIGINT
 * drain it (stop accepting, answer the requests in flight, free the model) and exit 0; SIGHUP
 * reloads the model file (the old model keeps serving when the new file is bad). Logs are pino
 * JSON lines on stdout (pretty on a terminal).
 */
export async function runServe(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined) {
    throw new UsageError('dfm serve: needs --model FILE (a .dfm from dfm train, or a dfm export / ONNX export folder). Example: dfm serve --model results/dfm/mvtec/bottle/latest/model.dfm --port 8080');
  }
  const model = resolve(o.model);
  if (!existsSync(model)) throw new UsageError(`dfm serve: --model ${o.model} does not exist (looked at ${model}). Run 'dfm train' first.`);
  const token = o.token ?? (process.env.DFM_SERVE_TOKEN || undefined);
  if (token !== undefined && token.length < 8) throw new UsageError(`dfm serve: --token must be at least 8 characters — got ${token.length}. Use a long random string (openssl rand -hex 24).`);
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && token === undefined) {
    warn(io, `dfm serve: listening on ${host} without a token: anyone who reaches this address can score images and reload the model. Set --token or DFM_SERVE_TOKEN.`);
  }
  await selectBackend(ctx);
  const app: DfmServer = await createServer({
    model,
    token,
    host,
    port: o.port ?? 8080,
    maxBatchSize: o.maxBatchSize,
    maxWaitMs: o.maxWaitMs,
    maxQueue: o.maxQueue,
    loadOptions: { runtime: o.runtime },
    logger: process.env.DFM_SERVE_LOG === 'off' ? false : true,
  });
  const url = await app.dfm.listen();
  const { id, runtimeDetail } = app.dfm.model;
  log(io, `dfm serve: ${id} at ${url}/ (page), ${url}/v1/predict (API)${token === undefined ? '' : ', bearer token required'}; ${runtimeDetail}`);

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(io, `dfm serve: ${signal}: draining (no new requests; answering those in flight)`);
      app.close().then(
        () => {
          log(io, 'dfm serve: stopped');
          done(0);
        },
        (error: Error) => {
          warn(io, `dfm serve: closing failed: ${error.message}`);
          done(1);
        },
      );
    };
    const reload = () => {
      log(io, 'dfm serve: SIGHUP: reloading the model');
      app.dfm.reload().then(
        (summary: { id: string }) => log(io, `dfm serve: now serving ${summary.id}`),
        (error: Error) => warn(io, `dfm serve: reload failed, the old model keeps serving: ${error.message}`),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
  });
}
