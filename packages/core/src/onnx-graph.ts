import type { OnnxGraph, OnnxInitializer, OnnxNode, OnnxValueInfo } from '@dfm/backbone';
import { InvalidArgumentError, NotFittedError } from '@dfm/errors';
import type { DFMModel } from './dfm-model';
import { type PostProcessing, pixelScaling } from './post-processing';

/** Name of the exported graph's input: `[batch, 3, H, W]` float32 RGB in [0, 1], NCHW. */
export const ONNX_EXPORT_INPUT = 'image';

/** One output of an exported graph, as `metadata.json` describes it. */
export interface OnnxExportOutput {
  name: 'pred_score' | 'normalized_score' | 'pred_label' | 'anomaly_map' | 'pred_mask';
  /** `'batch'` is the dynamic batch axis. */
  shape: (number | 'batch')[];
  dtype: 'float32' | 'bool';
  description: string;
}

/**
 * The outputs a model exports, in graph order: `pred_score` always; `anomaly_map` for FRE models;
 * `normalized_score` and `pred_label` when it has thresholds; `pred_mask` when it also has pixel
 * thresholds (FRE only).
 */
export function onnxExportOutputs(scoreType: 'fre' | 'nll', post: PostProcessing | null, height: number, width: number): OnnxExportOutput[] {
  const outputs: OnnxExportOutput[] = [
    {
      name: 'pred_score',
      shape: ['batch'],
      dtype: 'float32',
      description:
        scoreType === 'fre'
          ? 'raw image score: the feature reconstruction error (sum of squared PCA residuals)'
          : 'raw image score: the negative log-likelihood of the PCA projection under the fitted Gaussian (up to a constant)',
    },
  ];
  if (scoreType === 'fre') {
    outputs.push({
      name: 'anomaly_map',
      shape: ['batch', 1, height, width],
      dtype: 'float32',
      description: 'raw FRE map (channel sum of squared residuals), upsampled bilinearly with half-pixel centres to the input size',
    });
  }
  if (post !== null) {
    outputs.push(
      {
        name: 'normalized_score',
        shape: ['batch'],
        dtype: 'float32',
        description: 'pred_score min-max scaled around the image threshold: clamp((s − threshold) / (max − min) + 0.5, 0, 1); 0.5 = threshold',
      },
      { name: 'pred_label', shape: ['batch'], dtype: 'bool', description: 'true = anomalous: pred_score > image threshold (compared in float64)' },
    );
    if (scoreType === 'fre' && pixelScaling(post) !== null) {
      outputs.push({
        name: 'pred_mask',
        shape: ['batch', 1, height, width],
        dtype: 'bool',
        description: 'true where anomaly_map > pixel threshold (compared in float64)',
      });
    }
  }
  return outputs;
}

/** A small builder for the nodes and constants of a graph, with fresh names under `dfm.`. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  #counter = 0;

  /** Adds a node with one output (a fresh name, or `output`) and returns that name. */
  op(opType: string, inputs: readonly string[], attributes?: OnnxNode['attributes'], output?: string): string {
    const name = output ?? `dfm.${opType.toLowerCase()}_${this.#counter++}`;
    this.nodes.push({ opType, inputs, outputs: [name], ...(attributes === undefined ? {} : { attributes }) });
    return name;
  }

  /** A constant (initializer) named `dfm.<name>`. */
  constant(name: string, dims: readonly number[], data: OnnxInitializer['data']): string {
    const full = `dfm.${name}`;
    this.initializers.push({ name: full, dims, data });
    return full;
  }

  /** `clamp((x − threshold) / range + 0.5, 0, 1)` in float64, as `scaleInto` computes it. */
  scale(x64: string, prefix: string, threshold: string, min: number, max: number): string {
    const range = max > min ? max - min : 1;
    const shifted = this.op('Sub', [x64, threshold]);
    const scaled = this.op('Mul', [shifted, this.constant(`${prefix}.inverse_range`, [], Float64Array.of(1 / range))]);
    const centred = this.op('Add', [scaled, this.constant(`${prefix}.half`, [], Float64Array.of(0.5))]);
    return this.op('Clip', [centred, this.constant(`${prefix}.zero`, [], Float64Array.of(0)), this.constant(`${prefix}.one`, [], Float64Array.of(1))]);
  }
}

/**
 * The whole fitted model as one ONNX graph (opset 17): ImageNet-style normalisation, the backbone
 * up to the layer, average pooling, the PCA projection and reconstruction (FRE) or the Gaussian
 * (NLL), the FRE map upsampled to the input size, min-max scaling and thresholds — the same
 * arithmetic as {@link DFMModel.predict} and the Detector, in float32 (thresholds compared in
 * float64, as the Detector compares them).
 *
 * Input `image` `[batch, 3, H, W]` float32 RGB in [0, 1] (NCHW), H × W the model's image size:
 * resizing stays outside the graph (ONNX's Resize has no antialiased kernel equal to training's
 * before opset 18). Outputs: {@link onnxExportOutputs}.
 *
 * @throws NotFittedError for a model not fitted, InvalidArgumentError for one whose backbone is not loaded or whose image size is unknown
 */
export function dfmOnnxGraph(model: DFMModel, metadata: Record<string, string> = {}): OnnxGraph {
  const where = 'exportOnnx()';
  if (!model.isFitted) throw new NotFittedError(`${where}: the model must be fitted — it is not. Call fit() or DFMModel.load() first.`);
  const backbone = model.backbone;
  if (backbone === undefined) {
    throw new InvalidArgumentError(`${where}: the model's backbone must be loaded — it is not. Await model.ready() (DFMModel.load() does) before exporting.`);
  }
  const imageSize = model.imageSize;
  const featureShape = model.featureShape;
  if (imageSize === null || featureShape === null) {
    throw new InvalidArgumentError(
      `${where}: the model must know the image size it was fitted on — this one records none (a model fitted on features). Fit it on images, or set preProcessing.imageSize.`,
    );
  }
  const [height, width] = imageSize;
  const [h, w, c] = featureShape;
  const { config, preProcessing, postProcessing } = model;
  const g = new GraphBuilder();

  // Pixel normalisation ((x − mean) / std per channel), then the backbone (NCHW).
  let pixels = ONNX_EXPORT_INPUT;
  if (preProcessing.normalization !== null) {
    const { mean, std } = preProcessing.normalization;
    const centred = g.op('Sub', [pixels, g.constant('pixel_mean', [1, 3, 1, 1], Float32Array.from(mean))]);
    pixels = g.op('Div', [centred, g.constant('pixel_std', [1, 3, 1, 1], Float32Array.from(std))]);
  }
  const prelude = g.nodes.length;
  const net = backbone.onnxGraph({ layer: config.layer, inputName: pixels });
  const layerOutput = (net.outputs[0] as OnnxValueInfo).name;

  // Average pooling (kernel = stride, floor), then the features flattened in h, w, c order as poolAndFlatten does.
  const k = config.poolingKernelSize;
  const pooled = k > 1 ? g.op('AveragePool', [layerOutput], { kernel_shape: [k, k], strides: [k, k] }) : layerOutput;
  const nhwc = g.op('Transpose', [pooled], { perm: [0, 2, 3, 1] });
  const features = g.op('Flatten', [nhwc], { axis: 1 });

  const pca = model.pca.getState();
  const centred = g.op('Sub', [features, g.constant('pca.mean', [pca.nFeatures], pca.mean)]);
  const projected = g.op('MatMul', [centred, g.constant('pca.components', [pca.nFeatures, pca.k], pca.components)]);
  const axis1 = g.constant('axis_1', [1], { int64: [1] });
  const outputs: OnnxValueInfo[] = [{ name: 'pred_score', dims: ['batch'] }];
  let map: string | undefined;
  if (config.scoreType === 'fre') {
    const transposed = new Float32Array(pca.k * pca.nFeatures);
    for (let i = 0; i < pca.nFeatures; i++) for (let j = 0; j < pca.k; j++) transposed[j * pca.nFeatures + i] = pca.components[i * pca.k + j] as number;
    const reconstructed = g.op('MatMul', [projected, g.constant('pca.components_transposed', [pca.k, pca.nFeatures], transposed)]);
    const residual = g.op('Sub', [centred, reconstructed]);
    const squared = g.op('Mul', [residual, residual]);
    g.op('ReduceSum', [squared, axis1], { keepdims: 0 }, 'pred_score');
    // The map: channel sum at feature resolution, [B, 1, h, w], then bilinear with half-pixel centres to [B, 1, H, W].
    const cells = g.op('Reshape', [squared, g.constant('cells_shape', [4], { int64: [-1, h, w, c] })]);
    const cellSum = g.op('ReduceSum', [cells, g.constant('axis_3', [1], { int64: [3] })], { keepdims: 1 });
    const small = g.op('Transpose', [cellSum], { perm: [0, 3, 1, 2] });
    const batch = g.op('Shape', [ONNX_EXPORT_INPUT], { start: 0, end: 1 });
    const sizes = g.op('Concat', [batch, g.constant('map_size', [3], { int64: [1, height, width] })], { axis: 0 });
    map = g.op('Resize', [small, '', '', sizes], { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'half_pixel' } }, 'anomaly_map');
    outputs.push({ name: 'anomaly_map', dims: ['batch', 1, height, width] });
  } else {
    const gaussian = model.gaussian;
    if (gaussian === null) throw new NotFittedError(`${where}: an NLL model must have its Gaussian fitted — this one has none. Fit the model again.`);
    const state = gaussian.getState();
    const rank = state.sigma.length;
    const whitening = new Float32Array(state.nFeatures * rank);
    for (let i = 0; i < state.nFeatures; i++) {
      for (let j = 0; j < rank; j++) whitening[i * rank + j] = (state.directions[i * rank + j] as number) / (state.sigma[j] as number);
    }
    let logDeterminant = 0;
    for (const sigma of state.sigma) logDeterminant += 2 * Math.log(sigma);
    const offset = g.op('Sub', [projected, g.constant('gaussian.mean', [state.nFeatures], Float32Array.from(state.mean))]);
    const whitened = g.op('MatMul', [offset, g.constant('gaussian.whitening', [state.nFeatures, rank], whitening)]);
    const squares = g.op('ReduceSum', [g.op('Mul', [whitened, whitened]), axis1], { keepdims: 0 });
    g.op('Add', [squares, g.constant('gaussian.log_determinant', [], Float32Array.of(logDeterminant))], undefined, 'pred_score');
  }

  if (postProcessing !== null) {
    const score64 = g.op('Cast', ['pred_score'], { to: 11 });
    const threshold = g.constant('image_threshold', [], Float64Array.of(postProcessing.imageThreshold));
    const scaled = g.scale(score64, 'image', threshold, postProcessing.imageMin, postProcessing.imageMax);
    g.op('Cast', [scaled], { to: 1 }, 'normalized_score');
    g.op('Greater', [score64, threshold], undefined, 'pred_label');
    outputs.push({ name: 'normalized_score', dims: ['batch'] }, { name: 'pred_label', type: 'bool', dims: ['batch'] });
    const pixel = pixelScaling(postProcessing);
    if (map !== undefined && pixel !== null) {
      const map64 = g.op('Cast', [map], { to: 11 });
      g.op('Greater', [map64, g.constant('pixel_threshold', [], Float64Array.of(pixel.threshold))], undefined, 'pred_mask');
      outputs.push({ name: 'pred_mask', type: 'bool', dims: ['batch', 1, height, width] });
    }
  }

  return {
    name: `dfm_${config.backbone}_${config.layer}_${config.scoreType}`,
    // Topological order: normalisation, the backbone, then the head.
    nodes: [...g.nodes.slice(0, prelude), ...net.nodes, ...g.nodes.slice(prelude)],
    initializers: [...g.initializers, ...net.initializers],
    inputs: [{ name: ONNX_EXPORT_INPUT, dims: ['batch', 3, height, width] }],
    outputs,
    metadata,
    docString: `DFM (${config.backbone} ${config.layer}, pooling ${k}, ${pca.k} components, ${config.scoreType.toUpperCase()}) exported by @dfm/core. Input image: [batch, 3, ${height}, ${width}] float32 RGB in [0, 1], NCHW, resized as metadata.json says.`,
  };
}
