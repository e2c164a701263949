/**
 * A static file server on 127.0.0.1 (random port) for the real-browser test: each URL path is
 * mapped to one file or folder given up front, nothing else is served.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.png': 'image/png',
  // instantiateStreaming (onnxruntime-web, tfjs-backend-wasm) requires this type.
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

export interface ServeStaticOptions {
  /** URL path → file (`/app.js`), or URL prefix ending in `/` → folder (`/ort/`). */
  routes: Record<string, string>;
  /** Pages (`/index.html`) → their HTML. */
  pages?: Record<string, string>;
  /**
   * Send COOP `same-origin` and COEP `require-corp` with every response, which makes the pages
   * cross-origin isolated: SharedArrayBuffer, hence WebAssembly threads, become available.
   */
  crossOriginIsolated?: boolean;
}

export async function serveStatic(options: ServeStaticOptions): Promise<StaticServer> {
  const { routes, pages = {}, crossOriginIsolated = false } = options;
  const server: Server = createServer((request, response) => {
    if (crossOriginIsolated) {
      response.setHeader('cross-origin-opener-policy', 'same-origin');
      response.setHeader('cross-origin-embedder-policy', 'require-corp');
    }
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const page = pages[path === '/' ? '/index.html' : path];
    if (page !== undefined) {
      response.writeHead(200, { 'content-type': TYPES['.html'] as string, 'cache-control': 'no-store' });
      response.end(page);
      return;
    }
    const file = routeOf(routes, path);
    let size: number | undefined;
    try {
      size = file !== undefined && statSync(file).isFile() ? statSync(file).size : undefined;
    } catch {
      size = undefined;
    }
    if (file === undefined || size === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end(`not found: ${path}\n`);
      return;
    }
    response.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(size),
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function routeOf(routes: Record<string, string>, path: string): string | undefined {
  const exact = routes[path];
  if (exact !== undefined) return exact;
  for (const [prefix, folder] of Object.entries(routes)) {
    if (!prefix.endsWith('/') || !path.startsWith(prefix)) continue;
    const relative = normalize(path.slice(prefix.length));
    if (relative.startsWith('..') || relative.includes(`${sep}..`)) return undefined;
    return join(folder, relative);
  }
  return undefined;
}
