import { architectureOf, type BackboneName, checkLayerName, type LayerName, networkPlan, planConvs, stageOf } from './architectures';

/** What {@link backboneFlops} counted. */
export interface BackboneFlops {
  /** Floating-point operations per image: 2 × multiply-adds of every conv (bias, ReLU, pooling and adds excluded). */
  flops: number;
  multiplyAdds: number;
  convs: number;
}

/**
 * FLOPs of one image through the backbone up to `layer`, counted analytically from the convs
 * (each output element of a conv costs Cin·K·K multiply-adds; FLOPs = 2 × multiply-adds). Output
 * sides follow PyTorch: ⌊(n + 2·pad − K) / stride⌋ + 1. The max-pool after the stem halves the side.
 *
 * @example
 * backboneFlops('resnet18', 'layer3', 256).flops; // ≈ 3.66e9
 */
export function backboneFlops(name: BackboneName, layer: LayerName, size: number | [number, number]): BackboneFlops {
  const spec = architectureOf(name, 'backboneFlops()');
  const plan = networkPlan(spec, stageOf(checkLayerName(layer, 'backboneFlops()')));
  let [h, w] = typeof size === 'number' ? [size, size] : size;
  const out = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  let multiplyAdds = 0;
  const count = (c: { inChannels: number; outChannels: number; kernel: number; stride: number; pad: number }, inH: number, inW: number) => {
    const oh = out(inH, c.kernel, c.stride, c.pad);
    const ow = out(inW, c.kernel, c.stride, c.pad);
    multiplyAdds += oh * ow * c.outChannels * c.inChannels * c.kernel * c.kernel;
    return [oh, ow] as const;
  };
  [h, w] = count(plan.stem, h, w);
  [h, w] = [out(h, 3, 2, 1), out(w, 3, 2, 1)];
  for (const stage of plan.stages) {
    for (const block of stage) {
      let [bh, bw] = [h, w];
      for (const conv of block.convs) [bh, bw] = count(conv, bh, bw);
      if (block.downsample) count(block.downsample, h, w);
      [h, w] = [bh, bw];
    }
  }
  return { flops: 2 * multiplyAdds, multiplyAdds, convs: planConvs(plan).length };
}
