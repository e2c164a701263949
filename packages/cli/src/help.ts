import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandName, optionsOf } from './options';
import { VERSION } from './version';

/** Where the CLI reference is online, for when no copy is on disk. */
export const DOCS_URL = 'https://github.com/dfm-ts/dfm/blob/main/docs/cli.md';

/** The folder of this module: `dist/` of the installed package, or `src/` in a checkout. */
function moduleDir(): string {
  // The ESM build and tsx have import.meta.url; the CommonJS build has __dirname instead.
  const url: unknown = import.meta.url;
  return typeof url === 'string' && url.startsWith('file:') ? dirname(fileURLToPath(url)) : __dirname;
}

/**
 * Where the CLI reference is: `<package root>/docs/cli.md` shipped in the npm package, else the
 * repository's `docs/cli.md` when running from a checkout, else {@link DOCS_URL}. `from` is the
 * folder of the running module (`dist/` or `src/`, one level under the package root).
 */
export function docsLocation(from: string = moduleDir()): string {
  const packageRoot = resolve(from, '..');
  const shipped = join(packageRoot, 'docs', 'cli.md');
  if (existsSync(shipped)) return shipped;
  const repository = resolve(packageRoot, '..', '..');
  const checkout = join(repository, 'docs', 'cli.md');
  if (existsSync(checkout) && existsSync(join(repository, 'pnpm-workspace.yaml'))) return checkout;
  return DOCS_URL;
}

const SUMMARIES: Record<CommandName, { usage: string; summary: string }> = {
  train: { usage: 'dfm train --data DIR --category NAME [options]', summary: 'fit on the normal images and save model.dfm (+ thresholds from the validation split) in a new run folder' },
  test: { usage: 'dfm test --data DIR --category NAME [--model FILE] [options]', summary: 'fit (or load --model) and evaluate; writes a new run folder <results-dir>/dfm/<dataset>/<category>/v<N>/' },
  predict: { usage: 'dfm predict --model FILE --input FILE|DIR [--output DIR]', summary: 'score images with a saved model: scores, labels, heatmap PNGs' },
  serve: {
    usage: 'dfm serve --model FILE [--host 127.0.0.1] [--port 8080] [--token TOKEN]',
    summary: 'an HTTP inspection service: POST /v1/predict, a web page, /healthz, /readyz, /metrics, dynamic batching (docs/serve.md)',
  },
  worker: {
    usage: 'dfm worker --redis URL --queue NAME [--model FILE] [--concurrency N] [--threads N] [--runtime auto|tfjs|onnxruntime]',
    summary:
      'a scoring worker of a Redis queue (BullMQ): scores the images of NAME with --model and takes the fit shards of NAME-fit (without --model, only those); SIGTERM/SIGINT finish the jobs in progress, then exit 0',
  },
  submit: {
    usage: 'dfm submit --redis URL --queue NAME --input FILE|DIR [--input …] [--output DIR] [--heatmaps] [--no-wait]',
    summary: "score images through a queue's workers (dfm worker): waits for every result and writes them as dfm predict does; failed images are listed and make the exit code 1",
  },
  queue: {
    usage: 'dfm queue stats|dead-letters --redis URL --queue NAME [--prometheus] [--limit N] [--json]',
    summary: 'stats: waiting, active, delayed, completed and failed jobs, dead letters and workers of NAME and NAME-fit; dead-letters: the jobs that failed their last attempt, with their error',
  },
  export: {
    usage: 'dfm export --model FILE --out DIR [--export-type web|onnx]',
    summary: 'web: a folder any static web server can serve (model, weights, dfm.js, a scoring page, manifest); onnx: the whole model as one ONNX graph + metadata.json',
  },
  bench: { usage: 'dfm bench [--runtimes A,B] [--skip-torch] [--skip-memory] [--json]', summary: 'the performance benchmark' },
  demo: { usage: 'dfm demo [options]', summary: 'fit and test on the MVTec AD bottle of the development assets (resnet18/layer3)' },
};

/** `dfm --help`. */
export function usage(): string {
  const lines = [
    `dfm ${VERSION}: DFM image anomaly detection (pretrained CNN features → PCA → FRE/NLL scores and anomaly maps)`,
    '',
    'Usage: dfm <command> [options]        dfm <command> --help for its options',
    '',
    'Commands:',
    ...Object.entries(SUMMARIES).map(([name, { summary }]) => `  ${name.padEnd(9)} ${summary}`),
    '',
    'Examples:',
    '  dfm test --data datasets/MVTec --category bottle --backbone resnet18 --weights imagenet',
    '  dfm train --config examples/configs/dfm.yaml',
    '  dfm predict --model results/dfm/mvtec/bottle/latest/model.dfm --input photos/ --output heatmaps/',
    '  dfm test --data datasets/MVTec --category bottle --json > result.json',
    '  dfm worker --redis redis://127.0.0.1:6379 --queue line-3 --model model.dfm   # then, anywhere:',
    '  dfm submit --redis redis://127.0.0.1:6379 --queue line-3 --input /mnt/frames/ --output scored/',
    '',
    'Every command takes --json (one JSON document on stdout; logs on stderr; dfm worker: one JSON line per event) and --verbose.',
    'Exit codes: 0 done, 2 a usage/data/model-file error (the message says the fix), 1 an internal error.',
    `Docs: ${docsLocation()}`,
    '',
  ];
  return lines.join('\n');
}

/** `dfm <command> --help`. */
export function commandHelp(command: CommandName): string {
  const { usage: line, summary } = SUMMARIES[command];
  const specs = optionsOf(command).filter((spec) => spec.deprecatedFor === undefined);
  const left = specs.map((spec) =>
    spec.negatable ? `--[no-]${spec.flag}` : `--${spec.flag}${spec.kind === 'boolean' ? '' : ` ${spec.choices ? spec.choices.join('|') : (spec.value ?? 'VALUE')}`}`,
  );
  const width = Math.min(28, Math.max(...left.map((l) => l.length)));
  const rows = specs.map((spec, i) => {
    const flag = left[i] as string;
    const text = `${spec.help}${spec.shown !== undefined ? ` (default: ${spec.shown})` : ''}`;
    return flag.length > width ? `  ${flag}\n  ${' '.repeat(width)}  ${text}` : `  ${flag.padEnd(width)}  ${text}`;
  });
  return `${line}\n\n${summary}.\n\nOptions:\n${rows.join('\n')}\n\nDocs: ${docsLocation()}\n`;
}
