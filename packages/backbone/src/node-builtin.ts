/**
 * Node.js built-in modules, reached at run time instead of through static `import … from 'node:…'`.
 *
 * This package also runs in browsers (the onnxruntime-web and tfjs engines, weights as bytes or a
 * URL). A static import of a built-in makes every browser bundler fail ("Could not resolve
 * node:fs") even when the code using it never runs there. `process.getBuiltinModule` (Node ≥ 20.16,
 * also in Bun and Deno) returns the same module synchronously, and bundlers see no import at all,
 * so the Node-only paths (files, downloads into a cache, worker threads, native packages) stay
 * exactly as they were in Node and are simply never taken in a browser.
 */
import type * as crypto from 'node:crypto';
import type * as fs from 'node:fs';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type * as module from 'node:module';
import type * as os from 'node:os';
import type * as path from 'node:path';
import type * as url from 'node:url';
import type * as workerThreads from 'node:worker_threads';
import { DfmError } from '@dfm/errors';

interface NodeBuiltins {
  crypto: typeof crypto;
  fs: typeof fs;
  http: typeof http;
  https: typeof https;
  module: typeof module;
  os: typeof os;
  path: typeof path;
  url: typeof url;
  worker_threads: typeof workerThreads;
}

/** True in Node.js (and Bun/Deno's Node layer), false in browsers and web workers. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * The Node.js built-in `node:<name>`.
 *
 * @param caller what needs it, for the error outside Node (e.g. `loadSafetensors(path)`)
 * @throws DfmError outside Node.js, naming the caller
 */
export function nodeBuiltin<Name extends keyof NodeBuiltins>(name: Name, caller: string): NodeBuiltins[Name] {
  if (!isNode() || typeof process.getBuiltinModule !== 'function') {
    throw new DfmError(
      `${caller}: needs Node.js ≥ 20.16 (node:${name}) — this runtime is ${isNode() ? `Node.js ${process.versions.node}` : 'not Node.js (a browser?)'}. In a browser pass weights as bytes or a URL and use runtime 'onnxruntime' (onnxruntime-web) or 'tfjs'; in Node upgrade to 20.19 or later.`,
      { code: 'E_RUNTIME_UNAVAILABLE' },
    );
  }
  return process.getBuiltinModule(`node:${name}`) as unknown as NodeBuiltins[Name];
}

/** An environment variable in Node (`process.env[name]`); undefined elsewhere. */
export function environmentVariable(name: string): string | undefined {
  return isNode() ? process.env[name] : undefined;
}

/**
 * The native binding a package ships for this Node: the first `<package>/<folder>/napi-v*\/<...within>`
 * that exists (tfjs-node: `lib`, `tfjs_binding.node`; onnxruntime-node: `bin`, platform, arch,
 * `onnxruntime_binding.node`); undefined when there is none.
 *
 * @param packageJsonPath the package's resolved `package.json`
 */
export function napiBindingPath(packageJsonPath: string, folder: string, within: readonly string[], caller: string): string | undefined {
  const { existsSync, readdirSync } = nodeBuiltin('fs', caller);
  const { dirname, join } = nodeBuiltin('path', caller);
  const root = join(dirname(packageJsonPath), folder);
  if (!existsSync(root)) return undefined;
  for (const entry of readdirSync(root)) {
    const candidate = join(root, entry, ...within);
    if (entry.startsWith('napi-v') && existsSync(candidate)) return candidate;
  }
  return undefined;
}
