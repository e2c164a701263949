import { architectureOf, type BackboneName } from './architectures';
import { isNode, nodeBuiltin } from './node-builtin';
import { writeFileAtomic } from './write-file-atomic';
import { CorruptFileError, DfmError, InvalidArgumentError } from '@dfm/errors';

/**
 * Where weights come from: a local path, an http(s) URL, a Hugging Face hub id (`owner/repo`,
 * e.g. `timm/resnet18.tv_in1k`), `'imagenet'` (the `timm/<arch>.tv_in1k` hub id), the bytes of a
 * safetensors file, or `null` for a seeded random initialisation.
 */
export type WeightsSpec = string | Uint8Array | null;

/** Progress of a download, reported about ten times a second and once at the end. */
export interface DownloadProgress {
  url: string;
  receivedBytes: number;
  /** From Content-Length; undefined when the server does not send it. */
  totalBytes: number | undefined;
  done: boolean;
}

export interface ResolveWeightsOptions {
  /** Architecture, needed to resolve `'imagenet'`. */
  architecture?: BackboneName;
  /** Cache folder. Default `$DFM_CACHE_DIR`, else `~/.cache/dfm`. */
  cacheDir?: string;
  /** Hub base URL. Default `$DFM_HUB_ENDPOINT`, else `$HF_ENDPOINT`, else `https://huggingface.co`. */
  hubEndpoint?: string;
  /**
   * Expected sha256 (hex) of the file; a mismatch throws CorruptFileError and keeps nothing.
   * Default: for `'imagenet'` and the hub ids it stands for, the hash the hub publishes (see
   * {@link publishedSha256}); otherwise none (the first download's hash is recorded and checked
   * on every later use).
   */
  sha256?: string;
  /** Seed recorded in the id of random weights (`random:<seed>`). Default 0. */
  seed?: number;
  /** Download progress. Default: a progress bar on stderr when it is a TTY, else nothing. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Abort a download that receives nothing for this long. Default 60 000 ms. */
  timeoutMs?: number;
  /** Environment to read DFM_CACHE_DIR / DFM_HUB_ENDPOINT / HF_ENDPOINT from. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

export interface ResolveWeightsResult {
  /** A local safetensors file, or null for random weights and in-memory bytes. */
  path: string | null;
  /**
   * Outside Node (no file system, so no cache folder): the downloaded file's bytes. Undefined
   * otherwise (a local file, bytes passed in, random weights).
   */
  bytes?: Uint8Array;
  /** What the weights are: file basename, URL, hub id, `bytes:<sha256 prefix>` or `random:<seed>`. */
  id: string;
  /** sha256 (hex) of the file's bytes; null for random weights. */
  sha256: string | null;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const MAX_REDIRECTS = 5;

/**
 * The sha256 the Hugging Face hub publishes ("Git LFS Details" on each file's page) for the
 * `model.safetensors` of the hub ids `'imagenet'` resolves to. A download of one of these ids must
 * have exactly these bytes, whichever the endpoint (a mirror serves the same files), so a
 * tampered or corrupted download is refused instead of being trusted on first use.
 * `timm/resnet34.tv_in1k` is missing: its published hash could not be confirmed from a source,
 * so it is still trusted on first use (its hash recorded in the `.sha256` beside the file).
 */
const PUBLISHED_SHA256: Readonly<Record<string, string>> = {
  // https://huggingface.co/timm/resnet18.tv_in1k/blob/main/model.safetensors (commit a987fd6, 46.8 MB)
  'timm/resnet18.tv_in1k': '694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81',
  // https://huggingface.co/timm/resnet50.tv_in1k/blob/main/model.safetensors (commit aa6c2d3, 102 MB)
  'timm/resnet50.tv_in1k': '5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888',
  // https://huggingface.co/timm/wide_resnet50_2.tv_in1k/blob/main/model.safetensors (commit a616519, 276 MB)
  'timm/wide_resnet50_2.tv_in1k': 'df6fb6c4824769769de18e14088475fd6ee94236849aa4e5d8022ba9d9a9a16c',
};

/** The sha256 the hub publishes for a hub id's `model.safetensors`, when it is pinned here; else undefined. */
export function publishedSha256(id: string): string | undefined {
  return Object.hasOwn(PUBLISHED_SHA256, id) ? PUBLISHED_SHA256[id] : undefined;
}

/** The hub id that `'imagenet'` stands for: torchvision's ImageNet-1k weights on the timm hub. */
export function imagenetHubId(architecture: BackboneName): string {
  return `timm/${architecture}.tv_in1k`;
}

/** The URL of a hub id's `model.safetensors`. */
export function hubUrl(id: string, endpoint = 'https://huggingface.co'): string {
  return `${endpoint.replace(/\/+$/, '')}/${id}/resolve/main/model.safetensors`;
}

/** The cache folder: `options.cacheDir`, `$DFM_CACHE_DIR`, else `~/.cache/dfm`. */
export function cacheDirectory(options: { cacheDir?: string; env?: Record<string, string | undefined> } = {}): string {
  const { homedir } = nodeBuiltin('os', 'cacheDirectory()');
  const { join, resolve } = nodeBuiltin('path', 'cacheDirectory()');
  const env = options.env ?? process.env;
  const fromEnv = env.DFM_CACHE_DIR;
  return resolve(options.cacheDir ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'dfm')));
}

/**
 * Turns a weights spec into a local file (downloading into the cache when needed), an id to record
 * in model files, and the file's sha256.
 *
 * Downloads go to `<cache>/hub/<owner>--<repo>/model.safetensors` or `<cache>/url/<hash>/<name>`
 * through a temporary `.part` file of the process's own (`<file>.<pid>.<random>.part`), checked
 * (length against Content-Length; sha256 against `options.sha256` or, for `'imagenet'`, the
 * hash the hub publishes) and renamed into place only once complete. The sha256 is recorded
 * beside it (`<file>.sha256`), written before the rename, and checked on every later use, so a
 * failed or partial download never leaves a file that looks valid.
 *
 * Several processes may resolve the same weights at once (workers starting together): each
 * downloads to its own `.part`, and a cached file is never deleted, only replaced atomically by
 * a verified download, so no process removes a file another one has just completed and returned.
 * A process that finds the file already complete and verified uses it.
 *
 * Outside Node (a browser) there is no file system: bytes are used as they are, and a URL, hub id
 * or `'imagenet'` is fetched into memory (`bytes`) with `fetch` (the browser's HTTP cache is the
 * cache); a string starting with `/`, `./` or `../` is a URL relative to the page.
 *
 * @example
 * const { path, id, sha256 } = await resolveWeights('imagenet', { architecture: 'resnet18' });
 * // id 'timm/resnet18.tv_in1k', path ~/.cache/dfm/hub/timm--resnet18.tv_in1k/model.safetensors
 */
export async function resolveWeights(
  spec: WeightsSpec,
  options: ResolveWeightsOptions = {},
): Promise<ResolveWeightsResult> {
  if (spec === null) {
    const seed = options.seed ?? 0;
    return { path: null, id: `random:${seed}`, sha256: null };
  }
  if (spec instanceof Uint8Array) {
    const digest = await sha256Hex(spec);
    checkExpected(digest, options.sha256, '<bytes>');
    return { path: null, id: `bytes:${digest.slice(0, 16)}`, sha256: digest };
  }
  if (typeof spec !== 'string' || spec === '') {
    throw new InvalidArgumentError(
      `resolveWeights(): weights must be a path, URL, hub id, 'imagenet', bytes or null — got ${spec === '' ? 'an empty string' : typeof spec}. Pass one of those.`,
    );
  }
  if (!isNode()) return resolveInBrowser(spec, options);
  const { createHash } = nodeBuiltin('crypto', 'resolveWeights()');
  const { existsSync, statSync } = nodeBuiltin('fs', 'resolveWeights()');
  const { basename, join, resolve } = nodeBuiltin('path', 'resolveWeights()');
  const env = options.env ?? process.env;
  const endpoint = options.hubEndpoint ?? env.DFM_HUB_ENDPOINT ?? env.HF_ENDPOINT ?? 'https://huggingface.co';
  const cacheDir = cacheDirectory({ cacheDir: options.cacheDir, env });

  if (spec === 'imagenet') {
    if (options.architecture === undefined) {
      throw new InvalidArgumentError(
        "resolveWeights('imagenet'): needs options.architecture to choose the file — got none. Pass { architecture: 'resnet18' } (or use createBackbone).",
      );
    }
    const id = imagenetHubId(architectureOf(options.architecture, 'resolveWeights()').name);
    return downloadCached(hubUrl(id, endpoint), id, join(cacheDir, 'hub', id.replace('/', '--'), 'model.safetensors'), options);
  }
  if (/^https?:\/\//i.test(spec)) {
    const urlHash = createHash('sha256').update(spec).digest('hex').slice(0, 16);
    const name = safeFileName(new URL(spec).pathname);
    return downloadCached(spec, spec, join(cacheDir, 'url', urlHash, name), options);
  }
  if (existsSync(spec)) {
    const path = resolve(spec);
    if (!statSync(path).isFile()) {
      throw new InvalidArgumentError(`resolveWeights(): weights must be a file — ${path} is a folder. Pass the .safetensors file inside it.`);
    }
    const digest = sha256File(path);
    checkExpected(digest, options.sha256, path);
    return { path, id: basename(path), sha256: digest };
  }
  if (HUB_ID.test(spec)) {
    return downloadCached(hubUrl(spec, endpoint), spec, join(cacheDir, 'hub', spec.replace('/', '--'), 'model.safetensors'), options);
  }
  throw new InvalidArgumentError(
    `resolveWeights(): weights must be an existing file, an http(s) URL, a hub id like timm/resnet18.tv_in1k, 'imagenet' or null — got ${JSON.stringify(spec)}, which is none of these (no such file). Check the path.`,
    { code: 'E_WEIGHTS_NOT_FOUND' },
  );
}

/**
 * sha256 (hex) of `bytes`: node:crypto in Node, WebCrypto elsewhere (browsers give it only to
 * secure contexts: https or localhost). `caller` names what needs it, for the error.
 */
export async function sha256Hex(bytes: Uint8Array, caller = 'resolveWeights()'): Promise<string> {
  if (isNode()) return nodeBuiltin('crypto', caller).createHash('sha256').update(bytes).digest('hex');
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    throw new DfmError(
      `${caller}: hashing needs WebCrypto (crypto.subtle) — this page has none, as browsers give it only to secure contexts. Serve the page over https or from localhost.`,
      { code: 'E_RUNTIME_UNAVAILABLE' },
    );
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Outside Node: a URL, hub id or `'imagenet'` fetched into memory; anything else is refused with the fix. */
async function resolveInBrowser(spec: string, options: ResolveWeightsOptions): Promise<ResolveWeightsResult> {
  const env = options.env ?? {};
  const endpoint = options.hubEndpoint ?? env.DFM_HUB_ENDPOINT ?? env.HF_ENDPOINT ?? 'https://huggingface.co';
  let url: string;
  let id: string;
  if (spec === 'imagenet') {
    if (options.architecture === undefined) {
      throw new InvalidArgumentError(
        "resolveWeights('imagenet'): needs options.architecture to choose the file — got none. Pass { architecture: 'resnet18' } (or use createBackbone).",
      );
    }
    id = imagenetHubId(architectureOf(options.architecture, 'resolveWeights()').name);
    url = hubUrl(id, endpoint);
  } else if (/^https?:\/\//i.test(spec)) {
    url = spec;
    id = spec;
  } else if (/^\.{0,2}\//.test(spec) && typeof pageUrl() === 'string') {
    url = new URL(spec, pageUrl()).href;
    id = url;
  } else if (HUB_ID.test(spec)) {
    url = hubUrl(spec, endpoint);
    id = spec;
  } else {
    throw new InvalidArgumentError(
      `resolveWeights(): weights must be, outside Node.js, an http(s) URL, a URL starting with / ./ or ../, a hub id like timm/resnet18.tv_in1k, 'imagenet', bytes or null — got ${JSON.stringify(spec)}. There is no file system here: pass a URL or the file's bytes (Uint8Array).`,
    );
  }
  const bytes = await fetchBytes(url, options.timeoutMs ?? 60_000, options.onProgress);
  const digest = await sha256Hex(bytes);
  const expected = expectedSha256(id, options);
  if (expected !== undefined && digest !== expected) throw downloadMismatch(url, id, expected, digest, options);
  return { path: null, bytes, id, sha256: digest };
}

/** The page's URL in a browser (`location.href`), else undefined. */
function pageUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/** `fetch` into memory, with the same progress reports, inactivity timeout and length check as the Node download. */
async function fetchBytes(
  url: string,
  timeoutMs: number,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
): Promise<Uint8Array> {
  const failure = (fault: string, cause?: unknown) =>
    new DfmError(`resolveWeights(): downloading ${url} must succeed — ${fault}. Check the URL, the network and the server's CORS headers, then retry.`, {
      cause,
      code: 'E_DOWNLOAD_FAILED',
    });
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), timeoutMs);
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), timeoutMs);
  };
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: abort.signal });
    } catch (cause) {
      throw failure(abort.signal.aborted ? `no answer for ${timeoutMs} ms` : `the request failed (${(cause as Error).message})`, cause);
    }
    if (!response.ok) throw failure(`the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const lengthHeader = response.headers.get('content-length');
    const totalBytes = lengthHeader !== null && !encoded ? Number(lengthHeader) : undefined;
    const chunks: Uint8Array[] = [];
    let receivedBytes = 0;
    let lastReport = 0;
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw failure(abort.signal.aborted ? `no data for ${timeoutMs} ms after ${receivedBytes} bytes` : `the connection failed after ${receivedBytes} bytes`, cause);
      }
      if (chunk.done) break;
      alive();
      chunks.push(chunk.value);
      receivedBytes += chunk.value.length;
      const now = Date.now();
      if (onProgress && now - lastReport >= 100) {
        lastReport = now;
        onProgress({ url, receivedBytes, totalBytes, done: false });
      }
    }
    if (totalBytes !== undefined && receivedBytes !== totalBytes) throw failure(`received ${receivedBytes} bytes of the ${totalBytes} announced`);
    onProgress?.({ url, receivedBytes, totalBytes, done: true });
    const bytes = new Uint8Array(receivedBytes);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  } finally {
    clearTimeout(timer);
  }
}

function safeFileName(pathname: string): string {
  const last = decodeURIComponent(pathname.split('/').filter(Boolean).pop() ?? '');
  const clean = last.replace(/[^\w.-]/g, '_');
  return clean === '' || clean.startsWith('.') ? 'weights.safetensors' : clean;
}

function sha256File(path: string): string {
  const { createHash } = nodeBuiltin('crypto', 'resolveWeights()');
  const { readFileSync } = nodeBuiltin('fs', 'resolveWeights()');
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function checkExpected(digest: string, expected: string | undefined, file: string): void {
  if (expected !== undefined && digest !== expected.toLowerCase()) {
    throw new CorruptFileError(
      `resolveWeights(): ${file} must have sha256 ${expected} — got ${digest}. Delete it and download it again, or fix the expected hash.`,
      { file },
    );
  }
}

/** Reads `<file>.sha256` (first hex word), or undefined. */
function readRecordedSha(file: string): string | undefined {
  const { readFileSync } = nodeBuiltin('fs', 'resolveWeights()');
  try {
    const word = readFileSync(`${file}.sha256`, 'utf8').trim().split(/\s+/)[0];
    return word !== undefined && /^[0-9a-f]{64}$/.test(word) ? word : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `<file>.sha256` (atomically: readers see the old record or the new one, never a partial one). */
function recordSha(file: string, digest: string): void {
  const { basename } = nodeBuiltin('path', 'resolveWeights()');
  writeFileAtomic(`${file}.sha256`, `${digest}  ${basename(file)}\n`);
}

/** The hash a download of `id` must have: `options.sha256`, else the one the hub publishes for it, else none. */
function expectedSha256(id: string, options: ResolveWeightsOptions): string | undefined {
  return options.sha256?.toLowerCase() ?? publishedSha256(id);
}

/** The CorruptFileError for a download whose bytes are not the expected ones (nothing of it is kept). */
function downloadMismatch(url: string, id: string, expected: string, digest: string, options: ResolveWeightsOptions): CorruptFileError {
  const published = options.sha256 === undefined;
  const fix = published
    ? `The server sent other bytes than the hub publishes for ${id}: check the hub endpoint ($DFM_HUB_ENDPOINT / $HF_ENDPOINT, a mirror or proxy) and retry; to use other weights, pass their path or URL, or their hash as options.sha256.`
    : 'Check the URL, or fix the expected hash (options.sha256).';
  return new CorruptFileError(
    `resolveWeights(): the download of ${url} must have sha256 ${expected}${published ? ` (the hash the hub publishes for ${id})` : ''} — got ${digest}, so it was not kept. ${fix}`,
    { file: url },
  );
}

/**
 * The sha256 of the cached `target` when it can be used as it is, else undefined (then it is
 * downloaded again and replaced atomically; it is never deleted first, as another process may
 * have just completed it and returned its path). Usable: its hash is the expected one (then a
 * missing `.sha256` is written), or, with no expected hash, the one its `.sha256` records.
 */
function verifiedCachedFile(target: string, expected: string | undefined): string | undefined {
  let actual: string;
  try {
    actual = sha256File(target);
  } catch {
    return undefined; // absent (or unreadable, which a download will report if it cannot replace it)
  }
  const recorded = readRecordedSha(target);
  if (expected === undefined) return recorded === actual ? actual : undefined;
  if (actual !== expected) return undefined;
  if (recorded !== actual) {
    try {
      recordSha(target, actual);
    } catch {
      // A read-only cache: the file is verified against the expected hash all the same.
    }
  }
  return actual;
}

async function downloadCached(
  url: string,
  id: string,
  target: string,
  options: ResolveWeightsOptions,
): Promise<ResolveWeightsResult> {
  const expected = expectedSha256(id, options);
  const cached = verifiedCachedFile(target, expected);
  if (cached !== undefined) return { path: target, id, sha256: cached };
  const digest = await download(url, id, target, expected, options);
  return { path: target, id, sha256: digest };
}

/**
 * Downloads `url` to `target` via a `.part` file of this process's own; returns the sha256.
 * Nothing of this download is left on failure. Safe when other processes download the same
 * `target` at the same time: the `.sha256` is written before the rename (so whoever finds the
 * file finds its record), a file already completed by another process with the same bytes is
 * kept (this copy is dropped), and the rename replaces the file atomically.
 */
async function download(url: string, id: string, target: string, expected: string | undefined, options: ResolveWeightsOptions): Promise<string> {
  const { createHash, randomBytes } = nodeBuiltin('crypto', 'resolveWeights()');
  const { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } = nodeBuiltin('fs', 'resolveWeights()');
  const { resolve } = nodeBuiltin('path', 'resolveWeights()');
  const folder = resolve(target, '..');
  mkdirSync(folder, { recursive: true });
  const part = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  const onProgress = options.onProgress ?? defaultProgress();
  const fd = openSync(part, 'wx');
  let closed = false;
  try {
    const hash = createHash('sha256');
    await fetchTo(url, options.timeoutMs ?? 60_000, (chunk) => {
      hash.update(chunk);
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }, onProgress);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    const digest = hash.digest('hex');
    if (expected !== undefined && digest !== expected) throw downloadMismatch(url, id, expected, digest, options);
    if (verifiedCachedFile(target, digest) === digest) {
      // Another process completed the same file meanwhile: keep it (it may be in use) and drop this copy.
      rmSync(part, { force: true });
      return digest;
    }
    recordSha(target, digest);
    try {
      renameSync(part, target);
    } catch (cause) {
      // Windows refuses to replace a file another process holds open; that file is as good when it has the same bytes.
      if (verifiedCachedFile(target, digest) === digest) {
        rmSync(part, { force: true });
        return digest;
      }
      throw new DfmError(
        `resolveWeights(): moving the download into the cache as ${target} must succeed — it failed with ${(cause as NodeJS.ErrnoException).code ?? 'an error'} (${(cause as Error).message}). Check that the cache folder is writable (or set $DFM_CACHE_DIR / options.cacheDir to one that is), then retry.`,
        { cause, code: 'E_WRITE_FAILED' },
      );
    }
    return digest;
  } catch (error) {
    if (!closed) closeSync(fd);
    rmSync(part, { force: true });
    throw error;
  }
}

function fetchTo(
  url: string,
  timeoutMs: number,
  write: (chunk: Buffer) => void,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
  redirects = 0,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const failure = (fault: string, cause?: unknown) =>
      new DfmError(`resolveWeights(): downloading ${url} must succeed — ${fault}. Check the URL and the network, then retry.`, {
        cause,
        code: 'E_DOWNLOAD_FAILED',
      });
    let client: typeof import('node:http') | typeof import('node:https');
    try {
      client = new URL(url).protocol === 'https:' ? nodeBuiltin('https', 'resolveWeights()') : nodeBuiltin('http', 'resolveWeights()');
    } catch (cause) {
      reject(failure('the URL is invalid', cause));
      return;
    }
    const request = client.get(url, { headers: { 'user-agent': 'dfm-backbone' } }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location !== undefined) {
        response.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(failure(`more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        const next = new URL(response.headers.location, url).toString();
        fetchTo(next, timeoutMs, write, onProgress, redirects + 1).then(resolvePromise, reject);
        return;
      }
      if (status !== 200) {
        response.resume();
        reject(failure(`the server answered HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`));
        return;
      }
      const lengthHeader = response.headers['content-length'];
      const totalBytes = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
      let receivedBytes = 0;
      let lastReport = 0;
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) {
          response.destroy();
          reject(error);
        } else resolvePromise();
      };
      response.on('data', (chunk: Buffer) => {
        if (settled) return;
        try {
          write(chunk);
        } catch (cause) {
          settle(failure('writing to the cache failed', cause));
          return;
        }
        receivedBytes += chunk.length;
        const now = Date.now();
        if (onProgress && now - lastReport >= 100) {
          lastReport = now;
          onProgress({ url, receivedBytes, totalBytes, done: false });
        }
      });
      response.on('end', () => {
        if (!response.complete) {
          settle(failure(`the connection closed after ${receivedBytes} bytes, before the end of the file`));
        } else if (totalBytes !== undefined && receivedBytes !== totalBytes) {
          settle(failure(`received ${receivedBytes} bytes of the ${totalBytes} announced`));
        } else {
          onProgress?.({ url, receivedBytes, totalBytes, done: true });
          settle();
        }
      });
      response.on('error', (cause) =>
        settle(failure(`the connection failed after ${receivedBytes} bytes (${cause.message})`, cause)),
      );
      response.on('close', () => {
        if (!settled) settle(failure(`the connection closed after ${receivedBytes} bytes, before the end of the file`));
      });
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no data for ${timeoutMs} ms`)));
    request.on('error', (cause) => reject(failure(`the request failed (${cause.message})`, cause)));
  });
}

/** A one-line progress bar on stderr when it is a TTY; undefined otherwise. */
function defaultProgress(): ((progress: DownloadProgress) => void) | undefined {
  const stream = process.stderr;
  if (!stream.isTTY) return undefined;
  const { basename } = nodeBuiltin('path', 'resolveWeights()');
  return ({ url, receivedBytes, totalBytes, done }) => {
    const megabytes = (n: number) => (n / 1e6).toFixed(1);
    const width = 30;
    let line: string;
    if (totalBytes !== undefined && totalBytes > 0) {
      const fraction = Math.min(1, receivedBytes / totalBytes);
      const filled = Math.round(fraction * width);
      line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${megabytes(receivedBytes)}/${megabytes(totalBytes)} MB`;
    } else {
      line = `${megabytes(receivedBytes)} MB`;
    }
    stream.write(`\rdfm: downloading ${basename(new URL(url).pathname)} ${line}${done ? '\n' : ''}`);
  };
}
