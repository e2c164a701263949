import { nodeBuiltin } from '../node-builtin';

/**
 * How to start one of this package's worker threads, `name` being the worker's file name without
 * extension in the folder of `base` (the calling module's `import.meta.url`).
 *
 * - From the built package: `dist/<name>.js`, which tsup emits beside `dist/index.(c)js`.
 * - From source (vitest, tsx): the worker is TypeScript, so a small bootstrap registers tsx's
 *   loader inside the thread, then imports `<name>.ts`.
 */
export function workerEntry(name: string, base: string): { source: URL | string; eval: boolean } {
  if (/\.[cm]?ts$/.test(new URL(base).pathname)) {
    const { createRequire } = nodeBuiltin('module', 'workerEntry()');
    const { pathToFileURL } = nodeBuiltin('url', 'workerEntry()');
    const api = createRequire(base).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs');
    const target = new URL(`./${name}.ts`, base).href;
    const bootstrap = `import(${JSON.stringify(pathToFileURL(api).href)}).then(({ register }) => { register(); return import(${JSON.stringify(target)}); });`;
    return { source: bootstrap, eval: true };
  }
  return { source: new URL(`./${name}.js`, base), eval: false };
}

/** The parent's Node flags minus those only valid for a string entry (`node --input-type=module -e …`). */
export function workerExecArgv(): string[] {
  return process.execArgv.filter((flag) => !flag.startsWith('--input-type'));
}
