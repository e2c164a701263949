/**
 * The @dfm/serve web page: pick, drop, paste or photograph an image, and see how the service's
 * model scores it (verdict, score against the threshold, heatmap, timing), with the last results
 * as a strip of thumbnails. Plain TypeScript and the DOM, no framework; bundled by
 * scripts/build-ui.mjs into dist/ui/app.js, which index.html loads from /ui/app.js.
 *
 * It talks to its own origin only: GET /readyz, GET /v1/model, POST /v1/predict?heatmap=png (the
 * image bytes as the body). When the service wants a bearer token (HTTP 401 on /v1/*), the page
 * asks for it, keeps it in sessionStorage (this tab only) and repeats the request.
 *
 * For tests and scripts the page exposes its state as data attributes: `body[data-state]` is
 * 'loading' | 'auth' | 'ready' | 'scoring' | 'result' | 'error'; `#verdict[data-label]` is
 * '0' | '1' | 'none'; `#score[data-value]` holds the service's exact score; `#heatmap` is the
 * overlay image and `#plain` the uploaded one; `#strip` holds one <li> per recent result.
 */

// ---- The service's answers --------------------------------------------------------------------

interface ModelInfo {
  id: string;
  name: string | null;
  config: { backbone: string; layer: string; poolingKernelSize: number; nComps: number | 'all'; scoreType: 'fre' | 'nll' };
  preProcessing: { imageSize: [number, number] | null; resizeKernel: string; normalization: unknown };
  postProcessing: {
    imageThreshold: number;
    imageMin: number;
    imageMax: number;
    pixelThreshold: number | null;
    pixelMin: number | null;
    pixelMax: number | null;
  } | null;
  imageSize: [number, number] | null;
  backbone: { name: string; layer: string; weightsId: string | null; weightsSha256: string | null };
  runtime: string;
  runtimeDetail: string;
  packageVersion: string;
  loadedAt: string;
}

interface Prediction {
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
  heatmap?: { mediaType: string; width: number; height: number; base64: string };
  timing: { queueMs: number; scoreMs: number; totalMs: number };
  model: { id: string };
}

/** One scored image, kept for the strip. */
interface Entry {
  id: number;
  name: string;
  bytes: number;
  /** An object URL of the uploaded bytes (revoked when the entry leaves the strip). */
  imageUrl: string;
  /** A data URL of the heatmap overlay, when the model gives one. */
  heatmapUrl: string | null;
  result: Prediction;
  roundTripMs: number;
}

/** An error the service answered (`{ error: { code, message } }`), or one of the page's own. */
class ServiceError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

// ---- Page elements ----------------------------------------------------------------------------

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`index.html has no element #${id}: the page and app.js are from different builds.`);
  return found as T;
}

const ui = {
  status: element('status'),
  model: element('model'),
  details: element('model-details'),
  tokenForm: element<HTMLFormElement>('token-form'),
  tokenTitle: element('token-title'),
  token: element<HTMLInputElement>('token'),
  error: element('error'),
  errorTitle: element('error-title'),
  errorText: element('error-text'),
  errorCode: element('error-code'),
  errorClose: element<HTMLButtonElement>('error-close'),
  file: element<HTMLInputElement>('file'),
  open: element<HTMLButtonElement>('open'),
  pick: element<HTMLButtonElement>('pick'),
  drop: element('drop'),
  heatmap: element<HTMLImageElement>('heatmap'),
  plain: element<HTMLImageElement>('plain'),
  video: element<HTMLVideoElement>('video'),
  busyText: element('busy-text'),
  showHeatmap: element<HTMLInputElement>('show-heatmap'),
  camera: element<HTMLButtonElement>('camera'),
  cameraNote: element('camera-note'),
  cameraBar: element('camera-bar'),
  cameraLabel: element('camera-label'),
  capture: element<HTMLButtonElement>('capture'),
  cameraClose: element<HTMLButtonElement>('camera-close'),
  verdict: element<HTMLOutputElement>('verdict'),
  name: element('name'),
  gauge: element('gauge'),
  gaugeFill: element('gauge-fill'),
  marker: element('marker'),
  score: element('score'),
  threshold: element('threshold'),
  normalized: element('normalized'),
  timeQueue: element('time-queue'),
  timeScore: element('time-score'),
  timeTotal: element('time-total'),
  timeRoundTrip: element('time-round-trip'),
  strip: element<HTMLOListElement>('strip'),
  historyEmpty: element('history-empty'),
  historyCount: element('history-count'),
  clear: element<HTMLButtonElement>('clear'),
  footer: element('footer'),
};

// ---- State ------------------------------------------------------------------------------------

type PageState = 'loading' | 'auth' | 'ready' | 'scoring' | 'result' | 'error';

const TOKEN_KEY = 'dfm-serve-token';
/** How many results the strip keeps. */
const KEEP = 12;
/** How often a 503 E_OVERLOADED is retried (after its Retry-After) before the page reports it. */
const OVERLOAD_RETRIES = 3;

let model: ModelInfo | null = null;
const recent: Entry[] = [];
let shown: Entry | null = null;
let nextId = 1;
let queue: Promise<void> = Promise.resolve();
let stream: MediaStream | null = null;
/** The token prompt in progress, shared by every request that met a 401 meanwhile. */
let tokenPrompt: Promise<void> | null = null;

function setState(state: PageState, status?: string): void {
  document.body.dataset.state = state;
  if (status !== undefined) ui.status.textContent = status;
  // The dot says how the service is, apart from the page's state (an image it could not read is not the service's fault).
  ui.status.dataset.service = state === 'scoring' ? 'busy' : model !== null ? 'ready' : state === 'error' ? 'down' : 'loading';
}

const readyStatus = () => 'ready';

// ---- Formatting -------------------------------------------------------------------------------

/** A score with 6 significant digits (exponent form for very small or large values). */
function formatScore(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const size = Math.abs(value);
  return size !== 0 && (size < 1e-3 || size >= 1e6) ? value.toExponential(5) : value.toPrecision(6);
}

const formatMs = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? '–' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const verdictText = (label: 0 | 1 | null) => (label === 1 ? 'ANOMALOUS' : label === 0 ? 'NORMAL' : 'NO THRESHOLD');
const labelAttribute = (label: 0 | 1 | null) => (label === null ? 'none' : String(label));

/** Fills a <dl> with (term, value, title?) rows. */
function fillList(list: HTMLElement, rows: [string, string, string?][], wrap = false): void {
  list.replaceChildren(
    ...rows.flatMap(([term, value, title]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      if (title !== undefined) dd.title = title;
      if (!wrap) return [dt, dd];
      const div = document.createElement('div');
      div.append(dt, dd);
      return [div];
    }),
  );
}

// ---- Talking to the service -------------------------------------------------------------------

function authorization(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Reads a failed response's `{ error: { code, message } }` (or says what came instead). */
async function serviceError(response: Response, what: string): Promise<ServiceError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ServiceError(body.error.message, body.error.code ?? `HTTP_${response.status}`, response.status);
  } catch {
    // not JSON: reported below
  }
  const detail = text.trim().slice(0, 200);
  return new ServiceError(`${what} answered HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}`, `HTTP_${response.status}`, response.status);
}

/** Shows the token form and resolves once a token is entered (one prompt for all waiting requests). */
function askToken(rejected: boolean): Promise<void> {
  tokenPrompt ??= new Promise<void>((resolve) => {
    const previous = document.body.dataset.state as PageState;
    ui.tokenTitle.textContent = rejected ? 'The service did not accept this token.' : 'This service needs an access token.';
    ui.tokenForm.hidden = false;
    setState('auth', 'waiting for a token');
    ui.token.value = '';
    ui.token.focus();
    const submit = (event: SubmitEvent) => {
      event.preventDefault();
      const token = ui.token.value.trim();
      if (token === '') return;
      sessionStorage.setItem(TOKEN_KEY, token);
      ui.tokenForm.hidden = true;
      ui.tokenForm.removeEventListener('submit', submit);
      tokenPrompt = null;
      setState(previous === 'auth' ? 'loading' : previous, 'connecting…');
      resolve();
    };
    ui.tokenForm.addEventListener('submit', submit);
  });
  return tokenPrompt;
}

/** fetch() on /v1/*: adds the token, asks for one on a 401 and repeats; waits out a 503 E_OVERLOADED. */
async function api(path: string, init: RequestInit = {}, what = `${init.method ?? 'GET'} ${path}`): Promise<Response> {
  let overloaded = 0;
  for (;;) {
    const sentToken = sessionStorage.getItem(TOKEN_KEY);
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...authorization() } });
    } catch (error) {
      throw new ServiceError(`${what}: the service did not answer (${(error as Error).message}). Is it still running?`, 'E_NETWORK', 0);
    }
    if (response.status === 401) {
      await response.body?.cancel();
      if (sentToken !== null && sessionStorage.getItem(TOKEN_KEY) === sentToken) sessionStorage.removeItem(TOKEN_KEY);
      await askToken(sentToken !== null);
      continue;
    }
    if (response.status === 503 && overloaded < OVERLOAD_RETRIES) {
      const error = await serviceError(response, what);
      if (error.code === 'E_OVERLOADED') {
        overloaded++;
        const seconds = Math.min(10, Math.max(0.5, Number(response.headers.get('retry-after')) || 1));
        ui.busyText.textContent = `the service is busy, retrying in ${seconds} s…`;
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        continue;
      }
      throw error;
    }
    if (!response.ok) throw await serviceError(response, what);
    return response;
  }
}

/** Waits until GET /readyz says the model is loaded (the probe needs no token). */
async function waitUntilReady(): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch('/readyz', { cache: 'no-store' });
      if (response.ok) return;
      const body = (await response.json().catch(() => ({}))) as { status?: string };
      setState('loading', body.status === 'loading' ? 'the service is loading its model…' : `not ready (HTTP ${response.status})…`);
    } catch {
      setState('loading', 'waiting for the service…');
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 + attempt * 250)));
  }
}

async function loadModel(): Promise<void> {
  const response = await api('/v1/model', { cache: 'no-store' });
  model = (await response.json()) as ModelInfo;
  showModel(model);
}

// ---- The model header and details -------------------------------------------------------------

function showModel(info: ModelInfo): void {
  const post = info.postProcessing;
  const size = info.preProcessing.imageSize ?? info.imageSize;
  fillList(
    ui.model,
    [
      ['model', info.name ?? info.id, info.id],
      ['backbone', `${info.config.backbone} / ${info.config.layer}`],
      ['score', info.config.scoreType.toUpperCase(), info.config.scoreType === 'fre' ? 'feature reconstruction error' : 'negative log-likelihood'],
      ['input', size ? `${size[0]}×${size[1]} px` : 'as given'],
      ['runtime', info.runtime, info.runtimeDetail],
      post
        ? ['threshold', `${formatScore(post.imageThreshold)} = 0.5 normalised`, 'the image threshold (raw score); normalised scores put it at 0.5']
        : ['threshold', 'none (trained without anomalous images)'],
    ],
    true,
  );
  ui.model.lastElementChild?.classList.add('threshold-readout');
  ui.model.dataset.modelId = info.id;
  ui.threshold.textContent = post ? formatScore(post.imageThreshold) : 'none';
  const short = (hash: string | null) => (hash ? `${hash.slice(0, 12)}…` : '–');
  fillList(ui.details, [
    ['id', info.id, info.id],
    ['weights', info.backbone.weightsId ?? '–', info.backbone.weightsId ?? undefined],
    ['weights sha256', short(info.backbone.weightsSha256), info.backbone.weightsSha256 ?? undefined],
    ['pooling kernel', String(info.config.poolingKernelSize)],
    // nComps below 1 is the share of variance the PCA keeps (as anomalib's pca_level), else a count.
    typeof info.config.nComps === 'number' && info.config.nComps < 1 ? ['PCA variance kept', String(info.config.nComps)] : ['PCA components', String(info.config.nComps)],
    ['resize', info.preProcessing.resizeKernel],
    ['image range', post ? `${formatScore(post.imageMin)} … ${formatScore(post.imageMax)}` : '–', 'validation min … max of the image scores'],
    ['pixel threshold', post?.pixelThreshold == null ? '–' : formatScore(post.pixelThreshold)],
    ['loaded', new Date(info.loadedAt).toLocaleString()],
    ['@dfm/serve', info.packageVersion],
  ]);
  document.title = `${info.name ?? info.id} — DFM inspection`;
  ui.footer.textContent = `Model ${info.id} on ${info.runtimeDetail}. Images are sent to this service (${location.host}) and kept in this page only.`;
}

// ---- Scoring ----------------------------------------------------------------------------------

const SENDABLE = /^image\/(png|jpeg|webp|bmp|tiff|gif)$/;

async function score(blob: Blob, name: string): Promise<void> {
  setState('scoring', `scoring ${name}…`);
  ui.busyText.textContent = `scoring ${name}…`;
  const started = performance.now();
  const response = await api(
    '/v1/predict?heatmap=png',
    // The browser's type when it is one the service takes; otherwise the service sniffs the bytes.
    { method: 'POST', body: blob, headers: { 'content-type': SENDABLE.test(blob.type) ? blob.type : 'application/octet-stream' } },
    `scoring ${name}`,
  );
  const result = (await response.json()) as Prediction;
  const roundTripMs = performance.now() - started;
  const heatmapUrl = result.heatmap ? `data:${result.heatmap.mediaType};base64,${result.heatmap.base64}` : null;
  delete result.heatmap; // kept once, as the URL
  const entry: Entry = { id: nextId++, name, bytes: blob.size, imageUrl: URL.createObjectURL(blob), heatmapUrl, result, roundTripMs };
  recent.unshift(entry);
  for (const old of recent.splice(KEEP)) URL.revokeObjectURL(old.imageUrl);
  hideError();
  renderStrip();
  await show(entry);
  setState('result', readyStatus());
  // The service swapped its model (a reload): the header follows.
  if (model !== null && result.model.id !== model.id) await loadModel().catch(showError);
}

/** Scores files one after the other; one that fails is reported and the rest go on. */
function scoreAll(items: { blob: Blob; name: string }[]): void {
  for (const { blob, name } of items) {
    queue = queue.then(() =>
      score(blob, name).catch((error: unknown) => {
        showError(error, name);
      }),
    );
  }
}

const fromFiles = (files: Iterable<File>) => [...files].map((file) => ({ blob: file as Blob, name: file.name || 'pasted image' }));

// ---- Showing a result -------------------------------------------------------------------------

/** Resolves once `img` has loaded `src` (or failed to: a TIFF, say, that this browser cannot show). */
function loadInto(img: HTMLImageElement, src: string): Promise<boolean> {
  if (img.getAttribute('src') === src && img.complete) return Promise.resolve(img.naturalWidth > 0);
  return new Promise((resolve) => {
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
    img.src = src;
  });
}

function updateView(): void {
  const withHeatmap = ui.showHeatmap.checked && shown?.heatmapUrl != null;
  ui.heatmap.hidden = shown === null || !withHeatmap;
  ui.plain.hidden = shown === null || withHeatmap;
  ui.drop.dataset.view = shown === null ? '' : withHeatmap ? 'heatmap' : 'image';
}

async function show(entry: Entry): Promise<void> {
  shown = entry;
  stopCamera();
  const { result } = entry;
  const [plainShown] = await Promise.all([
    loadInto(ui.plain, entry.imageUrl),
    entry.heatmapUrl === null ? Promise.resolve(false) : loadInto(ui.heatmap, entry.heatmapUrl),
  ]);
  if (shown !== entry) return; // another result was chosen meanwhile
  document.body.classList.add('has-image');
  ui.showHeatmap.disabled = entry.heatmapUrl === null;
  updateView();

  ui.verdict.dataset.label = labelAttribute(result.predLabel);
  ui.verdict.textContent = verdictText(result.predLabel);
  const size = plainShown ? ` · ${ui.plain.naturalWidth}×${ui.plain.naturalHeight} px` : '';
  ui.name.textContent = `${entry.name}${size} · ${formatBytes(entry.bytes)}`;
  ui.name.title = entry.name;
  ui.score.textContent = formatScore(result.predScore);
  ui.score.dataset.value = String(result.predScore);
  ui.normalized.textContent = result.normalizedScore === null ? 'no thresholds' : result.normalizedScore.toFixed(3);

  const normalized = result.normalizedScore;
  ui.gauge.dataset.label = labelAttribute(result.predLabel);
  ui.gauge.classList.toggle('empty', normalized === null);
  const position = normalized === null ? 0 : Math.min(1, Math.max(0, normalized));
  ui.gaugeFill.style.width = `${(position * 100).toFixed(1)}%`;
  ui.marker.style.display = normalized === null ? 'none' : 'block';
  ui.marker.style.left = `${(position * 100).toFixed(1)}%`;

  ui.timeQueue.textContent = formatMs(result.timing.queueMs);
  ui.timeScore.textContent = formatMs(result.timing.scoreMs);
  ui.timeTotal.textContent = formatMs(result.timing.totalMs);
  ui.timeRoundTrip.textContent = formatMs(entry.roundTripMs);

  for (const button of ui.strip.querySelectorAll<HTMLButtonElement>('button.thumb')) {
    button.setAttribute('aria-current', String(button.dataset.entry === String(entry.id)));
  }
}

function renderStrip(): void {
  ui.strip.replaceChildren(
    ...recent.map((entry) => {
      const { result } = entry;
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'thumb';
      button.dataset.entry = String(entry.id);
      button.dataset.label = labelAttribute(result.predLabel);
      button.setAttribute('aria-current', String(shown?.id === entry.id));
      button.title = `${entry.name}: ${verdictText(result.predLabel)}, score ${formatScore(result.predScore)}`;
      button.setAttribute('aria-label', `Show ${button.title}`);
      const img = document.createElement('img');
      img.alt = '';
      img.src = entry.heatmapUrl ?? entry.imageUrl;
      const meta = document.createElement('span');
      meta.className = 'meta';
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = result.predLabel === 1 ? 'ANOMALOUS' : result.predLabel === 0 ? 'NORMAL' : '—';
      const value = document.createElement('span');
      value.textContent = result.normalizedScore === null ? formatScore(result.predScore) : result.normalizedScore.toFixed(2);
      meta.append(tag, value);
      const file = document.createElement('span');
      file.className = 'file';
      file.textContent = entry.name;
      button.append(img, meta, file);
      button.addEventListener('click', () => {
        show(entry).catch(showError);
      });
      item.append(button);
      return item;
    }),
  );
  ui.historyEmpty.hidden = recent.length > 0;
  ui.historyCount.textContent = recent.length > 0 ? `(${recent.length})` : '';
  ui.clear.disabled = recent.length === 0;
}

// ---- Errors -----------------------------------------------------------------------------------

function showError(error: unknown, name?: string): void {
  const service = error instanceof ServiceError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  ui.errorTitle.textContent = name === undefined ? 'Error:' : `Could not score ${name}:`;
  ui.errorText.textContent = message;
  ui.errorCode.textContent = service ? `${service.code}${service.status > 0 ? ` · HTTP ${service.status}` : ''}` : '';
  ui.error.hidden = false;
  ui.error.dataset.code = service?.code ?? '';
  setState('error', model === null ? 'error' : readyStatus());
}

function hideError(): void {
  ui.error.hidden = true;
  ui.error.dataset.code = '';
}

// ---- The camera -------------------------------------------------------------------------------

function setUpCamera(): void {
  if (!navigator.mediaDevices?.getUserMedia) {
    ui.camera.hidden = true;
    ui.cameraNote.hidden = false;
    ui.cameraNote.textContent = window.isSecureContext
      ? '· no camera access in this browser'
      : '· the camera needs HTTPS (or localhost)';
    return;
  }
  ui.camera.addEventListener('click', () => {
    startCamera().catch((error: unknown) => showError(new Error(`The camera could not be opened: ${(error as Error).message}`)));
  });
  ui.capture.addEventListener('click', () => {
    captureFrame().catch(showError);
  });
  ui.cameraClose.addEventListener('click', () => {
    stopCamera();
    updateView();
  });
}

async function startCamera(): Promise<void> {
  if (stream !== null) return;
  stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false });
  ui.video.srcObject = stream;
  await ui.video.play();
  document.body.classList.add('camera');
  ui.video.hidden = false;
  ui.heatmap.hidden = true;
  ui.plain.hidden = true;
  ui.cameraBar.hidden = false;
  ui.camera.disabled = true;
  ui.cameraLabel.textContent = stream.getVideoTracks()[0]?.label ?? '';
  ui.capture.focus();
}

function stopCamera(): void {
  if (stream === null) return;
  for (const track of stream.getTracks()) track.stop();
  stream = null;
  ui.video.srcObject = null;
  ui.video.hidden = true;
  ui.cameraBar.hidden = true;
  ui.camera.disabled = false;
  document.body.classList.remove('camera');
}

/** The current video frame → a PNG Blob → scored. */
async function captureFrame(): Promise<void> {
  const { videoWidth: width, videoHeight: height } = ui.video;
  if (width === 0 || height === 0) throw new Error('The camera has not delivered a frame yet; try again in a moment.');
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')?.drawImage(ui.video, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (blob === null) throw new Error('The camera frame could not be encoded as PNG.');
  const time = new Date().toTimeString().slice(0, 8);
  scoreAll([{ blob, name: `camera ${time}.png` }]);
}

// ---- Input: pick, drop, paste, keys -----------------------------------------------------------

function setUpInput(): void {
  ui.file.addEventListener('change', () => {
    if (ui.file.files) scoreAll(fromFiles(ui.file.files));
    ui.file.value = '';
  });
  ui.drop.addEventListener('click', () => {
    if (stream === null && !document.body.classList.contains('has-image')) ui.file.click();
  });
  for (const button of [ui.open, ui.pick]) {
    button.addEventListener('click', (event) => {
      event.stopPropagation(); // not the drop area's click as well
      ui.file.click();
    });
  }
  let depth = 0;
  window.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth++;
    ui.drop.classList.add('over');
  });
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) ui.drop.classList.remove('over');
  });
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    ui.drop.classList.remove('over');
    if (event.dataTransfer?.files.length) scoreAll(fromFiles(event.dataTransfer.files));
  });
  window.addEventListener('paste', (event) => {
    const target = event.target as HTMLElement | null;
    if (target?.tagName === 'INPUT') return; // the token field
    const files = [...(event.clipboardData?.items ?? [])]
      .filter((item) => item.kind === 'file')
      .map((item) => item.getAsFile())
      .filter((file): file is File => file !== null);
    if (files.length === 0) return;
    event.preventDefault();
    scoreAll(fromFiles(files));
  });
  ui.showHeatmap.addEventListener('change', updateView);
  window.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement | null;
    if (event.ctrlKey || event.metaKey || event.altKey || target?.tagName === 'INPUT') return;
    if (event.key === 'h' || event.key === 'H') {
      if (!ui.showHeatmap.disabled) {
        ui.showHeatmap.checked = !ui.showHeatmap.checked;
        updateView();
      }
    } else if ((event.key === 'o' || event.key === 'O') && stream === null) {
      ui.file.click();
    } else if (event.key === ' ' && stream !== null && target?.tagName !== 'BUTTON') {
      event.preventDefault();
      ui.capture.click();
    } else if (event.key === 'Escape') {
      if (stream !== null) {
        stopCamera();
        updateView();
      } else hideError();
    }
  });
  ui.errorClose.addEventListener('click', () => {
    hideError();
    if (document.body.dataset.state === 'error') setState(shown === null ? 'ready' : 'result', readyStatus());
  });
  ui.clear.addEventListener('click', () => {
    for (const entry of recent) URL.revokeObjectURL(entry.imageUrl);
    recent.length = 0;
    shown = null;
    document.body.classList.remove('has-image');
    ui.heatmap.removeAttribute('src');
    ui.plain.removeAttribute('src');
    ui.verdict.dataset.label = '';
    ui.verdict.textContent = 'no image yet';
    for (const field of [ui.name, ui.score, ui.normalized, ui.timeQueue, ui.timeScore, ui.timeTotal, ui.timeRoundTrip]) field.textContent = '';
    delete ui.score.dataset.value;
    ui.gaugeFill.style.width = '0';
    ui.marker.style.display = 'none';
    renderStrip();
    updateView();
    if (document.body.dataset.state === 'result') setState('ready', readyStatus());
  });
}

// ---- Start ------------------------------------------------------------------------------------

async function start(): Promise<void> {
  setUpInput();
  setUpCamera();
  renderStrip();
  await waitUntilReady();
  await loadModel();
  setState('ready', readyStatus());
}

start().catch((error: unknown) => showError(error));
