import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorruptFileError } from '@dfm/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../test/files-under';
import { encodeSafetensors } from './encode-safetensors';
import { randomResnetWeights } from './random-weights';
import { imagenetHubId, publishedSha256, resolveWeights } from './resolve-weights';

const body = Buffer.from(encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 6, stages: 1 }))));
const sha = createHash('sha256').update(body).digest('hex');
const child = fileURLToPath(new URL('../test/resolve-child.ts', import.meta.url));
const childTsconfig = fileURLToPath(new URL('../test/children.tsconfig.json', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
const CHUNKS = 24;
const CHUNK_GAP_MS = 30;

/** What the loopback hub saw for one hub id, and how it serves it. */
interface Route {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  /** Serve slowly (CHUNKS chunks, CHUNK_GAP_MS apart) instead of at once. */
  slow: boolean;
  /** After the first chunk, wait until this many downloads of the id are in flight. */
  peers: number;
  /** The second request's body waits for this. */
  holdSecond?: Promise<void>;
  /** Told when a request arrives (with its number, from 1). */
  onRequest?: (n: number) => void;
}

const routes = new Map<string, Route>();
const route = (id: string, settings: Partial<Route> = {}): Route => {
  const created: Route = { requests: 0, inFlight: 0, maxInFlight: 0, slow: false, peers: 1, ...settings };
  routes.set(`/${id}/resolve/main/model.safetensors`, created);
  return created;
};
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serve(state: Route, response: import('node:http').ServerResponse): Promise<void> {
  state.requests += 1;
  const n = state.requests;
  state.inFlight += 1;
  state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
  response.on('close', () => {
    state.inFlight -= 1;
  });
  state.onRequest?.(n);
  response.writeHead(200, { 'content-length': body.length });
  if (!state.slow) {
    response.end(body);
    return;
  }
  const size = Math.ceil(body.length / CHUNKS);
  for (let i = 0; i < CHUNKS; i += 1) {
    if (i === 1) {
      for (let waited = 0; state.inFlight < state.peers && waited < 60_000; waited += 10) await delay(10);
      if (n === 2 && state.holdSecond !== undefined) await state.holdSecond;
    }
    if (response.destroyed) return;
    response.write(body.subarray(i * size, (i + 1) * size));
    await delay(CHUNK_GAP_MS);
  }
  response.end();
}

interface ChildOutcome {
  exitCode: number | null;
  result: { ok: boolean; sha256?: string; fileSha256?: string; path?: string; name?: string; code?: string; message?: string };
  stdout: string;
}

/** Starts a resolve-child worker (real node + tsx process) and collects its JSON outcome. */
function startWorker(options: { spec: string; waitFor?: string; holdAfterRename?: string }, env: Record<string, string>) {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(options)], {
    cwd: root,
    env: { ...process.env, ...env, TSX_TSCONFIG_PATH: childTsconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<ChildOutcome>((resolve) =>
    proc.once('exit', (exitCode) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let result: ChildOutcome['result'];
      try {
        result = JSON.parse(last) as ChildOutcome['result'];
      } catch {
        result = { ok: false, message: `no JSON outcome; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr.slice(-2000))}` };
      }
      resolve({ exitCode, result, stdout });
    }),
  );
  return { proc, done };
}

/** Starts the loopback hub (serving `routes`) on 127.0.0.1 for the suite and hands its base URL to `onBase`. */
function useLoopbackHub(onBase: (url: string) => void): void {
  let server: Server;
  beforeAll(async () => {
    server = createServer((request, response) => {
      const state = routes.get(request.url ?? '');
      if (state === undefined) {
        response.writeHead(404, 'Not Found');
        response.end();
        return;
      }
      void serve(state, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onBase(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/**
 * Several processes (workers starting together) resolving the same weights into one cache at once.
 * Each test uses an empty cache ($DFM_CACHE_DIR) and its own hub id on a loopback hub
 * ($DFM_HUB_ENDPOINT) that serves a small safetensors file slowly, in chunks.
 */
describe('resolveWeights: two processes resolving the same weights at once', () => {
  let base: string;

  useLoopbackHub((url) => {
    base = url;
  });

  it('two processes started together on an empty cache download at once; both get the verified file, and only it and its .sha256 are left', async () => {
    const id = 'dfm-test/together';
    const state = route(id, { slow: true, peers: 2 });
    const cacheDir = mkdtempSync(join(tmpdir(), 'dfm-cache-race-'));
    const target = join(cacheDir, 'hub', 'dfm-test--together', 'model.safetensors');
    const env = { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base };

    const outcomes = await Promise.all([startWorker({ spec: id }, env).done, startWorker({ spec: id }, env).done]);

    for (const outcome of outcomes) {
      expect(outcome.result).toEqual({ ok: true, sha256: sha, fileSha256: sha, path: target });
      expect(outcome.exitCode).toBe(0);
    }
    // Both downloaded, and the downloads overlapped.
    expect(state.requests).toBe(2);
    expect(state.maxInFlight).toBe(2);
    expect(readFileSync(target).equals(body)).toBe(true);
    expect(readFileSync(`${target}.sha256`, 'utf8')).toBe(`${sha}  model.safetensors\n`);
    expect(filesUnder(cacheDir)).toEqual(['hub/dfm-test--together/model.safetensors', 'hub/dfm-test--together/model.safetensors.sha256']);
  }, 120_000);

  it('a process that starts while another is completing the download (its file just renamed into place) uses that file and never deletes it', async () => {
    const id = 'dfm-test/completing';
    let secondRequest = () => {};
    const second = new Promise<void>((resolve) => {
      secondRequest = resolve;
    });
    let releaseSecond = () => {};
    const state = route(id, {
      slow: true,
      holdSecond: new Promise<void>((resolve) => {
        releaseSecond = resolve;
      }),
      onRequest: (n) => {
        if (n === 2) secondRequest();
      },
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'dfm-cache-race-'));
    const target = join(cacheDir, 'hub', 'dfm-test--completing', 'model.safetensors');
    const release = join(mkdtempSync(join(tmpdir(), 'dfm-race-release-')), 'release');
    const env = { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base };

    // A downloads and stops right after renaming its file into place; B starts as soon as that file appears.
    const a = startWorker({ spec: id, holdAfterRename: release }, env);
    const b = startWorker({ spec: id, waitFor: target }, env);
    // Let A go on once B has either finished (with A's file) or started a download of its own. In
    // the second case B's download is held until A has exited, so A reads its file before B's lands.
    await Promise.race([b.done, second]);
    writeFileSync(release, '');
    const outcomeA = await a.done;
    releaseSecond();
    const outcomeB = await b.done;

    expect(outcomeA.stdout).toMatch(/^renamed\n/);
    expect(outcomeA.result).toEqual({ ok: true, sha256: sha, fileSha256: sha, path: target });
    expect(outcomeB.result).toEqual({ ok: true, sha256: sha, fileSha256: sha, path: target });
    expect([outcomeA.exitCode, outcomeB.exitCode]).toEqual([0, 0]);
    // B found A's file complete and verified, and downloaded nothing.
    expect(state.requests).toBe(1);
    expect(readFileSync(target).equals(body)).toBe(true);
    expect(filesUnder(cacheDir)).toEqual(['hub/dfm-test--completing/model.safetensors', 'hub/dfm-test--completing/model.safetensors.sha256']);
  }, 120_000);
});

describe("resolveWeights: 'imagenet' downloads are checked against the hashes the hub publishes", () => {
  let base: string;
  const freshCache = () => mkdtempSync(join(tmpdir(), 'dfm-cache-pinned-'));

  useLoopbackHub((url) => {
    base = url;
  });

  it('pins resnet18, resnet50 and wide_resnet50_2 (resnet34 has no confirmed published hash yet)', () => {
    expect(publishedSha256(imagenetHubId('resnet18'))).toBe('694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81');
    expect(publishedSha256(imagenetHubId('resnet50'))).toBe('5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888');
    expect(publishedSha256(imagenetHubId('wide_resnet50_2'))).toBe('df6fb6c4824769769de18e14088475fd6ee94236849aa4e5d8022ba9d9a9a16c');
    expect(publishedSha256(imagenetHubId('resnet34'))).toBeUndefined();
    expect(publishedSha256('timm/unknown')).toBeUndefined();
    expect(publishedSha256('toString')).toBeUndefined();
  });

  it('a download whose bytes are not the published ones is refused with CorruptFileError, and nothing is kept', async () => {
    const state = route('timm/resnet18.tv_in1k');
    const cacheDir = freshCache();
    const env = { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base };
    const error = await resolveWeights('imagenet', { architecture: 'resnet18', env, onProgress: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptFileError);
    expect((error as CorruptFileError).code).toBe('E_CORRUPT_FILE');
    const url = `${base}/timm/resnet18.tv_in1k/resolve/main/model.safetensors`;
    expect((error as Error).message).toBe(
      `resolveWeights(): the download of ${url} must have sha256 694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81 (the hash the hub publishes for timm/resnet18.tv_in1k) — got ${sha}, so it was not kept. The server sent other bytes than the hub publishes for timm/resnet18.tv_in1k: check the hub endpoint ($DFM_HUB_ENDPOINT / $HF_ENDPOINT, a mirror or proxy) and retry; to use other weights, pass their path or URL, or their hash as options.sha256.`,
    );
    expect(filesUnder(cacheDir)).toEqual([]);
    // The same through the hub id itself.
    await expect(resolveWeights('timm/resnet18.tv_in1k', { env, onProgress: () => {} })).rejects.toThrow(CorruptFileError);
    expect(filesUnder(cacheDir)).toEqual([]);
    expect(state.requests).toBe(2);
  });

  it('a cached file trusted on first use that is not the published file is not used', async () => {
    const state = route('timm/wide_resnet50_2.tv_in1k');
    const cacheDir = freshCache();
    const folder = join(cacheDir, 'hub', 'timm--wide_resnet50_2.tv_in1k');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.safetensors'), body);
    writeFileSync(join(folder, 'model.safetensors.sha256'), `${sha}  model.safetensors\n`);
    const env = { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base };
    await expect(resolveWeights('imagenet', { architecture: 'wide_resnet50_2', env, onProgress: () => {} })).rejects.toThrow(
      /must have sha256 df6fb6c4824769769de18e14088475fd6ee94236849aa4e5d8022ba9d9a9a16c \(the hash the hub publishes for timm\/wide_resnet50_2\.tv_in1k\) — got [0-9a-f]{64}, so it was not kept\./,
    );
    expect(state.requests).toBe(1);
  });

  it('options.sha256 takes precedence over the published hash', async () => {
    route('timm/resnet50.tv_in1k');
    const env = { DFM_CACHE_DIR: freshCache(), DFM_HUB_ENDPOINT: base };
    const result = await resolveWeights('imagenet', { architecture: 'resnet50', env, sha256: sha.toUpperCase(), onProgress: () => {} });
    expect(result.sha256).toBe(sha);
  });

  it('a cached file without its .sha256 (left by a process stopped in between) is kept when it has the expected hash', async () => {
    const state = route('dfm-test/no-record');
    const cacheDir = freshCache();
    const folder = join(cacheDir, 'hub', 'dfm-test--no-record');
    mkdirSync(folder, { recursive: true });
    const target = join(folder, 'model.safetensors');
    writeFileSync(target, body);
    const result = await resolveWeights('dfm-test/no-record', { env: { DFM_CACHE_DIR: cacheDir, DFM_HUB_ENDPOINT: base }, sha256: sha });
    expect(result).toEqual({ path: target, id: 'dfm-test/no-record', sha256: sha });
    expect(state.requests).toBe(0);
    expect(readFileSync(`${target}.sha256`, 'utf8')).toBe(`${sha}  model.safetensors\n`);
  });
});
