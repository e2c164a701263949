/**
 * The performance benchmark behind `dfm bench` / `pnpm bench`: the DFM recipe (resnet18 → layer3,
 * 256 px, pool 4, PCA 0.97, FRE) on the MVTec bottle assets with each runtime, the same recipe in
 * PyTorch (bench/dfm_torch.py) in the same run, the backbone alone against the machine's physical
 * limit (analytic FLOPs ÷ measured FMA peak), and the peak RSS of a fit on 1,000 images; the int8
 * backbone beside fp32, `dfm test` end to end as a process against the PyTorch script as a
 * process, and the int8 accuracy on the bottle and magnetic-tile.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOnnxruntime, setBackend } from '@dfm/backbone';
import { backboneFlops, findAssetsDir, findWorkspaceRoot } from '@dfm/backbone/internal';
import { MVTecAD } from '@dfm/data';
import { InvalidArgumentError } from '@dfm/errors';
import { type AccuracyReport, accuracyRows, ACCURACY_TARGETS, formatAccuracy } from './accuracy';
import { calibrationSample } from '@dfm/lightning-like';
import { type DfmTestRun, dfmEntryPoint, runDfmTestChild } from './dfm-test-child';
import { type EndToEndReport, endToEndReport, formatEndToEnd } from './end-to-end';
import { BENCH_RUNTIMES, type BenchRuntime, runtimeConfig } from './runtimes';
import { type PipelineFloor, pipelineFloor } from './floor';
import { type FmaPeak, measureFmaPeak } from './fma-peak';
import { describeMachine, type MachineInfo } from './machine';
import { type MemoryResult, measureFitMemory } from './memory-check';
import { type CalibrationRun, calibrateBenchBackbone, type PipelineResult, runPipeline, timeBackbone, timeDecode } from './pipeline';
import { benchService, formatService, type ServiceReport } from './service';
import { runTorchReference, type TorchResult } from './torch-reference';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Assets folder (default: found by findAssetsDir). */
  assetsDir?: string;
  /** Runtimes to measure (default: every available one): onnxruntime, onnxruntime-int8, tfjs-wasm-workers, tfjs-wasm. */
  runtimes?: string[];
  /** Skip the PyTorch reference run. */
  skipTorch?: boolean;
  /** Emit one JSON document instead of tables. */
  json?: boolean;
  /** Skip the peak-RSS fit on 1,000 images (the slowest part). */
  skipMemory?: boolean;
  /** Images in the memory check. Default 1000. */
  memoryImages?: number;
  /** Backbone timing iterations after one warm-up (default 5). */
  iterations?: number;
  /** Skip the extra run of the fastest runtime with sharp's 'linear' resize. */
  skipKernelVariant?: boolean;
  /** Skip the service rows (dfm serve under autocannon). */
  skipService?: boolean;
  /** Only the service rows and the pipeline of the runtime they use (the offline reference). */
  serviceOnly?: boolean;
  /** Seconds of load per service row (default 10). */
  serviceSeconds?: number;
  /** Skip the end-to-end rows (`dfm test` on the bottle as a process, fp32 and int8, against the PyTorch script as a process). */
  skipEndToEnd?: boolean;
  /** Skip the int8 accuracy table (`dfm test` on the bottle and magnetic-tile, fp32 / int8 minmax / int8 percentile; ~3 min). */
  skipAccuracy?: boolean;
}

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
const DATA = 'data/mvtec-bottle';
/** The second dataset of the int8 accuracy table (skipped with a reason when absent). */
const TILE = 'magnetic-tile';
const BATCH = 16;
const SIZE = 256;

export interface BackboneTiming {
  runtime: BenchRuntime;
  detail: string;
  msPerImage: number;
  best: number;
  /** msPerImage ÷ the physical limit's ms per image. */
  limitMultiple: number | null;
  /** int8: the calibration run before timing (not timed); null for fp32. */
  calibration: CalibrationRun | null;
}

/** What {@link runBench} measured. */
export interface BenchReport {
  machine: MachineInfo;
  recipe: string;
  flopsPerImage: number;
  peak: FmaPeak | { skipped: string };
  limitMsPerImage: number | null;
  backbone: BackboneTiming[];
  pipelines: PipelineResult[];
  skippedRuntimes: { runtime: string; reason: string }[];
  torch: TorchResult | { skipped: string };
  /** Our total ÷ PyTorch's total, per runtime (acceptance: ≤ 0.5). */
  ratios: { runtime: BenchRuntime; kernel: string; total: number; backbone: number }[];
  workersSpeedup: number | null;
  /** batches() alone over train + test: wall seconds and CPU seconds of the whole process (sharp's threads included). */
  decode: { kernel: string; seconds: number; processCpuSeconds: number }[];
  memory: MemoryResult | { skipped: string };
  /** dfm serve under load, and the offline scoring throughput it is compared with. */
  service: { report: ServiceReport; offline: { imagesPerSecond: number; runtime: string } | null } | { skipped: string };
  /** The floor of the fastest runtime's fit + test time from the parts measured in this run; null when a part is missing. */
  floor: PipelineFloor | null;
  /** onnxruntime fp32 ÷ onnxruntime-int8 (how many times faster int8 is; target ≥ 2 for the backbone); null without both rows. */
  int8Speedup: { backbone: number | null; pipeline: number | null; target: number };
  /** dfm test as a process, fp32 and int8, against the PyTorch script as a process. */
  endToEnd: EndToEndReport | { skipped: string };
  /** fp32 / int8 minmax / int8 percentile on the bottle and magnetic-tile. */
  accuracy: AccuracyReport | { skipped: string };
}

/** Target of issue 20: the int8 backbone at least this many times faster than fp32 (both onnxruntime). */
const INT8_SPEEDUP_TARGET = 2;

type Io = { out: NodeJS.WritableStream; err: NodeJS.WritableStream };

/** Runs the benchmark, printing tables (or JSON) to `out` and progress to `err`. */
export async function runBench(options: BenchOptions, io: Io): Promise<BenchReport> {
  const say = (line: string) => io.err.write(`[bench] ${line}\n`);
  const location = options.assetsDir !== undefined ? { found: true, dir: options.assetsDir } : findAssetsDir({ require: [WEIGHTS, DATA] });
  if (!location.found || location.dir === undefined || !existsSync(join(location.dir, WEIGHTS)) || !existsSync(join(location.dir, DATA))) {
    throw new InvalidArgumentError(
      `runBench(): needs ${WEIGHTS} and ${DATA} in the assets folder — ${'reason' in location ? location.reason : `not found in ${location.dir}`}. Pass --assets-dir or set DFM_ASSETS_DIR.`,
    );
  }
  const assets = location.dir;
  const weights = join(assets, WEIGHTS);
  const dataDir = join(assets, DATA);
  const root = findWorkspaceRoot(process.cwd()) ?? findWorkspaceRoot(new URL('.', import.meta.url).pathname);
  const machine = describeMachine();
  const iterations = options.iterations ?? 5;
  say(`${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGiB} GiB, load ${machine.loadAverage}`);

  await setBackend('wasm');
  const only = options.serviceOnly === true;
  const requested = (options.runtimes ?? (only ? ['onnxruntime'] : [...BENCH_RUNTIMES])).map((e) => e.trim());
  const skippedRuntimes: BenchReport['skippedRuntimes'] = [];
  const runtimes: BenchRuntime[] = [];
  for (const name of requested) {
    if (!(BENCH_RUNTIMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`runBench(): runtimes must be among ${BENCH_RUNTIMES.join(', ')} — got ${JSON.stringify(name)}.`);
    }
    if (runtimeConfig(name as BenchRuntime).runtime === 'onnxruntime') {
      const ort = await loadOnnxruntime();
      if (typeof ort === 'string') {
        skippedRuntimes.push({ runtime: name, reason: ort });
        say(`onnxruntime skipped: ${ort}`);
        continue;
      }
    }
    runtimes.push(name as BenchRuntime);
  }

  // 1. The machine's limit.
  const { flops } = backboneFlops('resnet18', 'layer3', SIZE);
  const peakSource = root !== undefined ? join(root, 'bench', 'fma_peak.c') : 'bench/fma_peak.c';
  if (!only) say('measuring the FMA peak');
  const peakResult = only ? 'skipped (--service-only)' : measureFmaPeak(peakSource, machine.nproc);
  const peak = typeof peakResult === 'string' ? { skipped: peakResult } : peakResult;
  const limitMsPerImage = typeof peakResult === 'string' ? null : (flops / (peakResult.gflops * 1e9)) * 1000;

  // 2. The backbone alone, batch 16. int8: the activation ranges first (minmax, on the training
  // images dfm test --precision int8 calibrates on), not timed; the row says how long they took.
  const data = new MVTecAD({ root: join(dataDir, '..'), category: DATA.split('/')[1] as string });
  const backbone: BackboneTiming[] = [];
  for (const runtime of only ? [] : runtimes) {
    say(`backbone alone: ${runtime}`);
    const int8 = runtimeConfig(runtime).precision === 'int8';
    const calibrated = int8 ? await calibrateBenchBackbone(weights, calibrationSample(data.train), { imageSize: SIZE, batchSize: BATCH, method: 'minmax' }) : null;
    const count = runtimeConfig(runtime).runtime === 'onnxruntime' ? iterations * 2 : iterations;
    const timed = await timeBackbone(runtime, weights, BATCH, SIZE, count, calibrated?.calibration);
    const { msPerImage, best } = timed;
    const detail = calibrated === null ? timed.detail : `${timed.detail}; calibrated before timing (${calibrated.run.method}, ${calibrated.run.images} seeded training images) in ${f(calibrated.run.seconds)} s`;
    backbone.push({ runtime, detail, msPerImage, best, limitMultiple: limitMsPerImage === null ? null : msPerImage / limitMsPerImage, calibration: calibrated?.run ?? null });
  }

  // 3. The pipeline per runtime.
  const pipelines: PipelineResult[] = [];
  for (const runtime of runtimes) {
    say(`pipeline: ${runtime}`);
    pipelines.push(await runPipeline({ runtime, weights, train: data.train, test: data.test, batchSize: BATCH, imageSize: SIZE }));
  }
  // Where decode time goes: the fastest runtime again with libvips' resize (inside sharp, native)
  // instead of @dfm/data's default antialiased bilinear of PIL / torchvision, in float, in JS.
  const fastest = runtimes[0];
  if (fastest !== undefined && !options.skipKernelVariant && !only) {
    say(`pipeline: ${fastest} with kernel 'linear'`);
    pipelines.push(
      await runPipeline({ runtime: fastest, weights, train: data.train, test: data.test, batchSize: BATCH, imageSize: SIZE, kernel: 'linear' }),
    );
  }

  // Decode alone, for where the time goes.
  const decode: BenchReport['decode'] = [];
  for (const kernel of only ? [] : (['bilinear-antialiased', 'linear'] as const)) {
    say(`decode alone: ${kernel}`);
    decode.push({ kernel, ...(await timeDecode([...data.train, ...data.test], BATCH, SIZE, kernel)) });
  }

  // 4. PyTorch, same recipe.
  let torch: BenchReport['torch'];
  if (options.skipTorch || only) torch = { skipped: `skipped (${only ? '--service-only' : '--skip-torch'})` };
  else {
    say('pipeline: PyTorch (bench/dfm_torch.py)');
    const script = root !== undefined ? join(root, 'bench', 'dfm_torch.py') : 'bench/dfm_torch.py';
    const result = runTorchReference(script, dataDir, weights, BATCH);
    torch = typeof result === 'string' ? { skipped: result } : result;
    if (typeof result === 'string') say(`PyTorch skipped: ${result}`);
  }
  const ratios =
    'skipped' in torch
      ? []
      : pipelines.map((p) => ({
          runtime: p.runtime,
          kernel: p.kernel,
          total: p.totalSeconds / (torch as TorchResult).total_s,
          backbone: p.stages.backbone / (torch as TorchResult).stages_s.backbone,
        }));
  const fp32Backbone = backbone.find((b) => b.runtime === 'onnxruntime');
  const int8Backbone = backbone.find((b) => b.runtime === 'onnxruntime-int8');
  const fp32Pipeline = pipelines.find((p) => p.runtime === 'onnxruntime' && p.kernel === 'bilinear-antialiased');
  const int8Pipeline = pipelines.find((p) => p.runtime === 'onnxruntime-int8' && p.kernel === 'bilinear-antialiased');
  const int8Speedup = {
    backbone: fp32Backbone && int8Backbone ? fp32Backbone.msPerImage / int8Backbone.msPerImage : null,
    pipeline: fp32Pipeline && int8Pipeline ? fp32Pipeline.totalSeconds / int8Pipeline.totalSeconds : null,
    target: INT8_SPEEDUP_TARGET,
  };
  if (int8Backbone && int8Speedup.backbone !== null) {
    int8Backbone.detail += `; ${f(int8Speedup.backbone)}× faster than onnxruntime fp32 (target ≥ ${INT8_SPEEDUP_TARGET}×)`;
  }

  // 4b. dfm test as a process (end to end), and the int8 accuracy table: dfm test --json children.
  const children = runDfmTestChildren({ options, only, root, assets, weights, dataDir, torch, say });
  const { endToEnd, accuracy } = children;

  const single = backbone.find((b) => b.runtime === 'tfjs-wasm');
  const workers = backbone.find((b) => b.runtime === 'tfjs-wasm-workers');
  const workersSpeedup = single && workers ? single.msPerImage / workers.msPerImage : null;

  // 5. Memory: fit on 1,000 images in a fresh process.
  let memory: BenchReport['memory'];
  if (options.skipMemory || only) memory = { skipped: 'skipped (skipMemory)' };
  else {
    const count = options.memoryImages ?? 1000;
    say(`memory: fit on ${count} images in a child process`);
    const runtime = runtimes.includes('onnxruntime') ? 'onnxruntime' : 'tfjs';
    const result = measureFitMemory({ trainDir: join(dataDir, 'train', 'good'), weights, count, runtime });
    memory = typeof result === 'string' ? { skipped: result } : result;
  }

  // 6. The service: dfm serve under load, against the offline scoring of the runtime it runs on.
  let service: BenchReport['service'];
  if (options.skipService) service = { skipped: 'skipped (--skip-service)' };
  else {
    try {
      const report = await benchService({ weights, train: data.train, test: data.test, imageSize: SIZE, durationSeconds: options.serviceSeconds, say });
      const used = report.runtimeDetail.includes('onnxruntime') ? 'onnxruntime' : 'tfjs-wasm-workers';
      const reference = pipelines.find((p) => p.runtime === used && p.kernel === 'bilinear-antialiased');
      service = { report, offline: reference === undefined ? null : { imagesPerSecond: reference.scoreImagesPerSecond, runtime: reference.runtime } };
    } catch (error) {
      service = { skipped: (error as Error).message };
      say(`service skipped: ${service.skipped}`);
    }
  }

  // The floor of the fastest runtime's pipeline from the parts measured above.
  const fastestTiming = backbone.find((b) => b.runtime === fastest);
  const fastestPipeline = pipelines.find((p) => p.runtime === fastest && p.kernel === 'bilinear-antialiased');
  const defaultDecode = decode.find((d) => d.kernel === 'bilinear-antialiased');
  const floor =
    fastest !== undefined && fastestTiming && fastestPipeline && defaultDecode
      ? pipelineFloor({
          runtime: fastest,
          images: fastestPipeline.images.train + fastestPipeline.images.test,
          backboneBestMs: fastestTiming.best,
          decodeCpuSeconds: defaultDecode.processCpuSeconds,
          cores: machine.nproc,
          fitSeconds: fastestPipeline.stages.fit,
          scoreSeconds: fastestPipeline.stages.score,
          torchSeconds: 'skipped' in torch ? null : torch.total_s,
          limitMs: limitMsPerImage,
          target: 0.5,
        })
      : null;

  const report: BenchReport = {
    machine,
    recipe: `resnet18 → layer3 (ImageNet), ${SIZE} px, batch ${BATCH}, pool 4, PCA 0.97, FRE + maps; MVTec bottle ${data.train.length} train + ${data.test.length} test`,
    flopsPerImage: flops,
    peak,
    limitMsPerImage,
    backbone,
    pipelines,
    skippedRuntimes,
    torch,
    ratios,
    workersSpeedup,
    decode,
    memory,
    service,
    floor,
    int8Speedup,
    endToEnd,
    accuracy,
  };
  if (options.json) io.out.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.out.write(formatReport(report));
  return report;
}

const f = (value: number, digits = 2) => value.toFixed(digits);

/**
 * The `dfm test --json` children: the bottle at fp32 and int8 (minmax), timed as processes for the
 * end-to-end rows and reused as the accuracy table's first rows; then the bottle at int8 percentile
 * and magnetic-tile at all three for the accuracy table.
 */
function runDfmTestChildren(context: {
  options: BenchOptions;
  only: boolean;
  root: string | undefined;
  assets: string;
  weights: string;
  dataDir: string;
  torch: BenchReport['torch'];
  say: (line: string) => void;
}): { endToEnd: BenchReport['endToEnd']; accuracy: BenchReport['accuracy'] } {
  const { options, only, root, assets, weights, dataDir, torch, say } = context;
  const skipEndToEnd = only ? 'skipped (--service-only)' : options.skipEndToEnd ? 'skipped (--skip-e2e)' : null;
  const skipAccuracy = only ? 'skipped (--service-only)' : options.skipAccuracy ? 'skipped (--skip-accuracy)' : null;
  if (skipEndToEnd !== null && skipAccuracy !== null) return { endToEnd: { skipped: skipEndToEnd }, accuracy: { skipped: skipAccuracy } };
  const bin = dfmEntryPoint(root);
  if (bin === undefined) {
    const skipped = `the built CLI (packages/cli/dist/bin.js) was not found: build it first (pnpm bench does)`;
    say(`dfm test children skipped: ${skipped}`);
    return { endToEnd: { skipped: skipEndToEnd ?? skipped }, accuracy: { skipped: skipAccuracy ?? skipped } };
  }
  const dataRoot = join(dataDir, '..');
  const bottle = DATA.split('/')[1] as string;
  const resultsRoot = mkdtempSync(join(tmpdir(), 'dfm-bench-test-'));
  const runs: { run: DfmTestRun; scores: Map<string, number> }[] = [];
  const failed: string[] = [];
  const once = (category: string, precision: 'fp32' | 'int8', calibration?: 'minmax' | 'percentile') => {
    say(`dfm test (child process): ${category}, ${precision}${calibration === undefined ? '' : ` ${calibration}`}`);
    const result = runDfmTestChild({ bin, dataRoot, category, weights, precision, calibration, resultsDir: join(resultsRoot, `${category}-${calibration ?? precision}`) });
    if (typeof result === 'string') {
      failed.push(result);
      say(result);
      return undefined;
    }
    say(`  ${result.run.wallSeconds.toFixed(2)} s, image AUROC ${result.run.imageAUROC.toFixed(4)}${result.run.pixelAUROC === null ? '' : `, pixel AUROC ${result.run.pixelAUROC.toFixed(4)}`}`);
    runs.push(result);
    return result;
  };
  try {
    const bottleRuns = [once(bottle, 'fp32'), once(bottle, 'int8', 'minmax')].flatMap((r) => (r === undefined ? [] : [r.run]));
    let endToEnd: BenchReport['endToEnd'];
    if (skipEndToEnd !== null) endToEnd = { skipped: skipEndToEnd };
    else if (bottleRuns.length === 0) endToEnd = { skipped: failed.join('; ') };
    else {
      const reference = 'skipped' in torch ? { skipped: `no ratio: PyTorch ${torch.skipped}` } : { wallSeconds: torch.processWallSeconds };
      const shown = (path: string) => path.replace(assets, '<assets>');
      endToEnd = endToEndReport(bottleRuns, reference, `dfm test --data ${shown(dataRoot)} --category ${bottle} --backbone resnet18 --layer layer3 --weights ${shown(weights)} --runtime onnxruntime [--precision int8 --calibration minmax] --json --results-dir <tmp>`);
    }
    let accuracy: BenchReport['accuracy'];
    if (skipAccuracy !== null) accuracy = { skipped: skipAccuracy };
    else {
      once(bottle, 'int8', 'percentile');
      if (existsSync(join(dataRoot, TILE))) for (const [precision, calibration] of [['fp32', undefined], ['int8', 'minmax'], ['int8', 'percentile']] as const) once(TILE, precision, calibration);
      else failed.push(`${TILE}: not in ${dataRoot}, its rows skipped`);
      accuracy = { rows: accuracyRows(runs), targets: ACCURACY_TARGETS, failed };
    }
    return { endToEnd, accuracy };
  } finally {
    rmSync(resultsRoot, { recursive: true, force: true });
  }
}

/** The report as Markdown tables (what docs/benchmarks.md shows). */
export function formatReport(r: BenchReport): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`Machine: ${m.cpu}, ${m.nproc} CPUs (nproc), ${m.memoryGiB} GiB, ${m.simd.join(' ')}; Node ${m.node}; load average at start ${m.loadAverage}`);
  lines.push(`Recipe: ${r.recipe}`);
  lines.push('');
  lines.push('### Pipeline (fit + test wall time; decode = time spent waiting for decoded batches; calibrate = int8 activation ranges, in total)');
  lines.push('');
  lines.push('| runtime | load s | calibrate s | decode s | backbone s | fit s | score s | total s | images/s | AUROC | total / PyTorch |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of r.pipelines) {
    const ratio = r.ratios.find((x) => x.runtime === p.runtime && x.kernel === p.kernel);
    lines.push(
      `| ${p.runtime}${p.kernel === 'bilinear-antialiased' ? '' : ` (resize: sharp '${p.kernel}')`} | ${f(p.loadSeconds)} | ${p.calibration === null ? '—' : `${f(p.stages.calibrate)} (${p.calibration.method}, ${p.calibration.images} img)`} | ${f(p.stages.decode)} | ${f(p.stages.backbone)} | ${f(p.stages.fit)} | ${f(p.stages.score)} | ${f(p.totalSeconds)} | ${f(p.imagesPerSecond, 1)} | ${f(p.auroc, 4)} | ${ratio ? `${f(ratio.total)}×` : '—'} |`,
    );
  }
  if ('skipped' in r.torch) lines.push(`| PyTorch | — | — | — | — | — | — | — | — | — | ${r.torch.skipped} |`);
  else {
    const t = r.torch;
    const n = t.images.train + t.images.test;
    lines.push(
      `| PyTorch ${t.torch} (${t.threads} threads, PIL) | ${f(t.load_s)} | — | ${f(t.stages_s.decode)} | ${f(t.stages_s.backbone)} | ${f(t.stages_s.fit)} | ${f(t.stages_s.score)} | ${f(t.total_s)} | ${f(n / t.total_s, 1)} | ${f(t.auroc, 4)} | 1.00× |`,
    );
  }
  for (const s of r.skippedRuntimes) lines.push(`| ${s.runtime} | skipped: ${s.reason} ||||||||||`);
  if (r.int8Speedup.pipeline !== null) lines.push('', `int8 ÷ fp32 pipeline (onnxruntime total ÷ onnxruntime-int8 total, calibration included): ${f(r.int8Speedup.pipeline)}×.`);
  lines.push('');
  lines.push(`### Backbone alone (resnet18 → layer3, ${SIZE} px, batch ${BATCH}; median ms per image)`);
  lines.push('');
  const limit = r.limitMsPerImage;
  if ('skipped' in r.peak) lines.push(`Physical limit not measured: ${r.peak.skipped}`);
  else {
    lines.push(
      `Physical limit: ${f(r.flopsPerImage / 1e9)} GFLOP per image (2 × multiply-adds of the convs, analytic) ÷ ${f(r.peak.gflops, 0)} GFLOP/s measured FMA peak on ${r.peak.threads} threads (${f(r.peak.singleThreadGflops, 0)} on one; ${r.peak.how}) = ${f(limit as number)} ms per image.`,
    );
  }
  lines.push('');
  lines.push('| runtime | ms/img (median) | best | × physical limit | GFLOP/s | detail |');
  lines.push('|---|---:|---:|---:|---:|---|');
  for (const b of r.backbone) {
    lines.push(
      `| ${b.runtime} | ${f(b.msPerImage, 1)} | ${f(b.best, 1)} | ${b.limitMultiple === null ? '—' : `${f(b.limitMultiple)}×`} | ${f(r.flopsPerImage / 1e9 / (b.msPerImage / 1000), 0)} | ${b.detail} |`,
    );
  }
  if (!('skipped' in r.torch)) {
    const t = r.torch.backbone_ms_per_image;
    lines.push(`| PyTorch | ${f(t, 1)} | — | ${limit === null ? '—' : `${f(t / limit)}×`} | ${f(r.flopsPerImage / 1e9 / (t / 1000), 0)} | torch ${r.torch.torch}, ${r.torch.threads} threads |`);
  }
  if (r.int8Speedup.backbone !== null) {
    const s = r.int8Speedup;
    lines.push('', `int8 ÷ fp32 backbone (onnxruntime ms/img ÷ onnxruntime-int8 ms/img): **${f(s.backbone as number)}×** (target ≥ ${s.target}×: ${(s.backbone as number) >= s.target ? 'met' : '**missed**'}).`);
  }
  const n = r.pipelines[0] ? r.pipelines[0].images.train + r.pipelines[0].images.test : 0;
  if (r.decode.length > 0 && n > 0) {
    lines.push('');
    lines.push(
      `Decode alone (batches(), ${n} images): ${r.decode.map((d) => `${d.kernel} ${f(d.seconds)} s wall, ${f(d.processCpuSeconds)} s CPU (${f((d.processCpuSeconds / n) * 1000, 1)} ms/img)`).join('; ')}.`,
    );
  }
  if (r.floor !== null) lines.push('', formatFloor(r.floor));
  if (r.workersSpeedup !== null) lines.push(`\ntfjs-wasm with worker threads: ${f(r.workersSpeedup)}× the single-thread throughput.`);
  lines.push('');
  if ('skipped' in r.memory) lines.push(`Memory check: ${r.memory.skipped}`);
  else {
    const mem = r.memory;
    lines.push(
      `Memory: fit on ${mem.images} images (bank [${mem.bankShape.join(', ')}] float32 = ${f((mem.bankShape[0] * mem.bankShape[1] * 4) / 2 ** 20, 1)} MiB) in ${f(mem.seconds, 1)} s, peak RSS ${f(mem.peakRssBytes / 2 ** 30, 2)} GiB (${mem.runtimeDetail}).`,
    );
  }
  lines.push('');
  if ('skipped' in r.service) lines.push(`Service: ${r.service.skipped}`);
  else lines.push(formatService(r.service.report, r.service.offline));
  lines.push('');
  if ('skipped' in r.endToEnd) lines.push(`End to end (dfm test as a process): ${r.endToEnd.skipped}`);
  else lines.push(formatEndToEnd(r.endToEnd).trimEnd());
  lines.push('');
  if ('skipped' in r.accuracy) lines.push(`int8 accuracy: ${r.accuracy.skipped}`);
  else lines.push(formatAccuracy(r.accuracy).trimEnd());
  return `${lines.join('\n')}\n`;
}

/** One paragraph: the floor of the fit + test time, and what 0.5× PyTorch would need. */
export function formatFloor(floor: PipelineFloor): string {
  const parts = `backbone alone at its best × ${floor.images} images = ${f(floor.backboneSeconds)} s + decoding's CPU ÷ cores = ${f(floor.decodeSeconds)} s + fit and score ${f(floor.fitScoreSeconds)} s = **${f(floor.totalSeconds)} s**${floor.ratio === null ? '' : ` = **${f(floor.ratio)}× PyTorch**`}`;
  let text = `Floor of fit + test with this run's parts (${floor.runtime}; the run is CPU-bound, so no overlap of decoding and backbone beats it): ${parts}.`;
  if (floor.neededMsPerImage !== null) {
    text +=
      floor.neededMsPerImage <= 0
        ? ` ${f(floor.target, 1)}× PyTorch is out of reach even with a free backbone.`
        : ` ${f(floor.target, 1)}× PyTorch needs the backbone at ≤ ${f(floor.neededMsPerImage, 1)} ms/img${floor.neededLimitMultiple === null ? '' : ` = ${f(floor.neededLimitMultiple)}× the physical limit`}, with decoding costing it nothing.`;
  }
  if (floor.atLimitSeconds !== null) text += ` With the backbone exactly at the physical limit: ${f(floor.atLimitSeconds)} s.`;
  return text;
}
