import { CorruptFileError, InvalidArgumentError, ShapeMismatchError } from '@dfm/linalg';
import * as tf from '@tensorflow/tfjs-core';
import {
  allTensorNames,
  architectureOf,
  type BackboneName,
  BACKBONE_NAMES,
  checkLayerName,
  expectedTensors,
  LAYER_NAMES,
  type LayerInfo,
  type LayerName,
  layerInfo,
  MIN_INPUT_SIZE,
  networkPlan,
  stageOf,
} from './architectures';
import { loadSafetensors } from './load-safetensors';
import { type RandomBatchNorm, randomResnetWeights } from './random-weights';
import { type DownloadProgress, resolveWeights, type WeightsSpec } from './resolve-weights';
import { ResNetGraph } from './resnet';
import { setBackend } from './set-backend';

export interface CreateBackboneOptions {
  /** See `WeightsSpec`: path, URL, hub id, 'imagenet', safetensors bytes, or null (random, seeded). */
  weights: WeightsSpec;
  /** Layers to extract, among layer1..layer4 and avgpool. Only the stages they need are built. */
  layers: readonly LayerName[];
  /** Seed of the random initialisation when `weights` is null. Default 0. */
  seed?: number;
  /** BatchNorm parameters of the random initialisation (tests of BN folding). Default `identity`. */
  randomBatchNorm?: RandomBatchNorm;
  /** Download progress (default: a bar on stderr when it is a TTY). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Cache folder for downloads. Default `$DFM_CACHE_DIR`, else `~/.cache/dfm`. */
  cacheDir?: string;
  /** Expected sha256 of the weights file. */
  sha256?: string;
}

/** A feature extractor. Owns its weight tensors until `dispose()`. */
export interface Backbone {
  readonly name: BackboneName;
  /** The layers `extract` returns, in the order requested. */
  readonly layers: readonly LayerName[];
  /** Where the weights came from: file basename, URL, hub id, `bytes:<sha256 prefix>` or `random:<seed>`. */
  readonly weightsId: string;
  /** sha256 of the weights file; null for random weights. */
  readonly weightsSha256: string | null;
  /**
   * Features of a batch of normalised images.
   *
   * @param batch `[B, H, W, 3]` float32, normalised (see `normalizeImageNet`), H, W ≥ 32; not modified
   * @returns per requested layer `[B, h, w, C]` (NHWC), and `[B, C]` for avgpool; owned by the caller
   */
  extract(batch: tf.Tensor4D): Record<LayerName, tf.Tensor4D | tf.Tensor2D>;
  /** Channels and stride (input pixels per feature cell; 0 for avgpool) of a layer. */
  layerInfo(layer: LayerName): LayerInfo;
  dispose(): void;
}

/**
 * Builds a torchvision/timm ResNet up to the deepest requested layer, loading (and checking by
 * name and shape) exactly the tensors it needs, with BatchNorm folded into the convs.
 *
 * @example
 * const backbone = await createBackbone('resnet18', { weights: 'imagenet', layers: ['layer2', 'layer3'] });
 * const { layer3 } = backbone.extract(normalizeImageNet(images)); // [B, 16, 16, 256] for 256×256
 */
export async function createBackbone(name: BackboneName, options: CreateBackboneOptions): Promise<Backbone> {
  const spec = architectureOf(name);
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): options must be { weights, layers } — got ${String(options)}. Pass e.g. { weights: 'imagenet', layers: ['layer3'] }.`,
    );
  }
  const { weights, seed = 0, randomBatchNorm = 'identity' } = options;
  if (!Array.isArray(options.layers) || options.layers.length === 0) {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): layers must be a non-empty list among ${LAYER_NAMES.join(', ')} — got ${JSON.stringify(options.layers)}. Pass e.g. ['layer2', 'layer3'].`,
    );
  }
  const layers = [...new Set(options.layers.map((layer) => checkLayerName(layer, `createBackbone('${name}')`)))];
  const stages = Math.max(...layers.map(stageOf));
  const plan = networkPlan(spec, stages);
  const expected = expectedTensors(plan);

  if (Object.keys(tf.engine().registryFactory).length === 0) await setBackend();

  let lookup: (tensorName: string) => Float32Array;
  let weightsId: string;
  let weightsSha256: string | null;
  if (weights === null) {
    const random = randomResnetWeights(name, { seed, stages, batchNorm: randomBatchNorm });
    lookup = (tensorName) => (random.get(tensorName) as { data: Float32Array }).data;
    weightsId = randomBatchNorm === 'identity' ? `random:${seed}` : `random-bn:${seed}`;
    weightsSha256 = null;
  } else {
    const resolved = await resolveWeights(weights, {
      architecture: name,
      seed,
      onProgress: options.onProgress,
      cacheDir: options.cacheDir,
      sha256: options.sha256,
    });
    const file = resolved.path ?? resolved.id;
    const { tensors, metadata } = loadSafetensors(
      resolved.path ?? (weights as Uint8Array),
      { label: resolved.id },
    );
    const declared = metadata?.architecture;
    if (declared !== undefined && (BACKBONE_NAMES as readonly string[]).includes(declared) && declared !== name) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): weights must be for ${name} — ${file} declares architecture ${declared}. Use createBackbone('${declared}') or other weights.`,
      );
    }
    const known = allTensorNames(spec);
    const unknown = [...tensors.keys()].filter((tensorName) => !known.has(tensorName));
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): weights must hold only ${name} tensors — ${file} has ${unknown.length} unknown: ${listNames(unknown)}. Check that the file is for ${name}.`,
      );
    }
    const missing = [...expected.keys()].filter((tensorName) => !tensors.has(tensorName));
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): layers ${layers.join(', ')} need conv1..layer${stages} — ${file} lacks ${missing.length} tensors: ${listNames(missing)}. Request shallower layers or use a complete weights file.`,
      );
    }
    for (const [tensorName, shape] of expected) {
      const tensor = tensors.get(tensorName) as { shape: number[]; data: Float32Array | Float64Array };
      if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeMismatchError(
          `createBackbone('${name}'): tensor ${tensorName} must have shape [${shape.join(',')}] — ${file} has [${tensor.shape.join(',')}]. Check that the file is for ${name}.`,
        );
      }
      for (const value of tensor.data) {
        if (!Number.isFinite(value)) {
          throw new CorruptFileError(
            `createBackbone('${name}'): weights must be finite — tensor ${tensorName} of ${file} holds ${value}. The file is damaged: download it again.`,
            { file },
          );
        }
      }
    }
    lookup = (tensorName) => {
      const data = (tensors.get(tensorName) as { data: Float32Array | Float64Array }).data;
      return data instanceof Float32Array ? data : Float32Array.from(data);
    };
    weightsId = resolved.id;
    weightsSha256 = resolved.sha256;
  }

  const graph = new ResNetGraph(plan, lookup);
  let disposed = false;
  return {
    name,
    layers,
    weightsId,
    weightsSha256,
    layerInfo: (layer: LayerName) => layerInfo(name, checkLayerName(layer, 'Backbone.layerInfo()')),
    extract(batch: tf.Tensor4D) {
      if (disposed) {
        throw new InvalidArgumentError(
          `Backbone.extract(): the backbone must not be disposed — ${name} was. Create a new one with createBackbone().`,
        );
      }
      checkBatch(batch);
      return tf.tidy(() => {
        const out: Partial<Record<LayerName, tf.Tensor4D | tf.Tensor2D>> = {};
        graph.run(batch, stages, (stage, output) => {
          const layer = `layer${stage}` as LayerName;
          if (layers.includes(layer)) out[layer] = output;
          if (stage === 4 && layers.includes('avgpool')) out.avgpool = tf.mean(output, [1, 2]) as tf.Tensor2D;
        });
        return out as Record<LayerName, tf.Tensor4D | tf.Tensor2D>;
      });
    },
    dispose() {
      if (!disposed) graph.dispose();
      disposed = true;
    },
  };
}

function listNames(names: readonly string[], limit = 12): string {
  const shown = names.slice(0, limit).join(', ');
  return names.length > limit ? `${shown}, … (${names.length - limit} more)` : shown;
}

function checkBatch(batch: tf.Tensor4D): void {
  const what = 'Backbone.extract(): batch must be a float32 tensor [B, H, W, 3] (NHWC, normalised) with H, W ≥ 32';
  if (!(batch instanceof tf.Tensor)) {
    throw new InvalidArgumentError(`${what} — got ${typeof batch}. Pass a tf.Tensor4D.`);
  }
  if (batch.isDisposed) {
    throw new InvalidArgumentError(`${what} — got a disposed tensor. Keep the batch alive until extract() returns.`);
  }
  if (batch.rank !== 4 || batch.shape[3] !== 3) {
    throw new ShapeMismatchError(
      `${what} — got [${batch.shape.join(',')}]. Convert images to NHWC RGB (grey: repeat the channel; RGBA: drop alpha).`,
    );
  }
  if (batch.dtype !== 'float32') {
    throw new InvalidArgumentError(`${what} — got dtype ${batch.dtype}. Cast to float32 and normalise (normalizeImageNet).`);
  }
  const [, height, width] = batch.shape;
  if (height < MIN_INPUT_SIZE || width < MIN_INPUT_SIZE) {
    throw new ShapeMismatchError(`${what} — got ${height}×${width}. Resize the images to at least 32×32.`);
  }
  if (batch.shape[0] === 0) {
    throw new ShapeMismatchError(`${what} — got an empty batch [${batch.shape.join(',')}]. Pass at least one image.`);
  }
}

