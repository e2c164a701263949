import { describe, expect, it } from 'vitest';
import { BACKBONE_NAMES, expectedTensors, featureSize, LAYER_NAMES, layerInfo, networkPlan, ARCHITECTURES } from './architectures';
import { UnknownBackboneError } from './errors';

describe('architectures', () => {
  it('gives the layer table of the README (channels, stride)', () => {
    const table = Object.fromEntries(
      BACKBONE_NAMES.map((name) => [name, LAYER_NAMES.map((layer) => Object.values(layerInfo(name, layer)).join('/'))]),
    );
    expect(table).toEqual({
      resnet18: ['64/4', '128/8', '256/16', '512/32', '512/0'],
      resnet34: ['64/4', '128/8', '256/16', '512/32', '512/0'],
      resnet50: ['256/4', '512/8', '1024/16', '2048/32', '2048/0'],
      wide_resnet50_2: ['256/4', '512/8', '1024/16', '2048/32', '2048/0'],
    });
  });

  it('has the torchvision tensor count and parameter count of each network (without fc)', () => {
    const count = (name: keyof typeof ARCHITECTURES) => {
      const tensors = expectedTensors(networkPlan(ARCHITECTURES[name]));
      let parameters = 0;
      for (const [tensorName, shape] of tensors) {
        if (!tensorName.endsWith('running_mean') && !tensorName.endsWith('running_var')) {
          parameters += shape.reduce((a, d) => a * d, 1);
        }
      }
      return [tensors.size, parameters];
    };
    // torchvision parameter counts minus fc (in × 1000 + 1000).
    expect(count('resnet18')).toEqual([100, 11_689_512 - 513_000]);
    expect(count('resnet34')).toEqual([180, 21_797_672 - 513_000]);
    expect(count('resnet50')).toEqual([265, 25_557_032 - 2_049_000]);
    expect(count('wide_resnet50_2')).toEqual([265, 68_883_240 - 2_049_000]);
  });

  it('computes PyTorch feature sizes for any input ≥ 32', () => {
    expect([1, 2, 3, 4].map((s) => featureSize(256, `layer${s}` as 'layer1'))).toEqual([64, 32, 16, 8]);
    expect([1, 2, 3, 4].map((s) => featureSize(65, `layer${s}` as 'layer1'))).toEqual([17, 9, 5, 3]);
    expect(featureSize(32, 'layer4')).toBe(1);
    expect(featureSize(32, 'avgpool')).toBe(1);
  });

  it('lists valid names in errors', () => {
    expect(() => layerInfo('resnet19' as 'resnet18', 'layer1')).toThrow(UnknownBackboneError);
    expect(() => layerInfo('resnet19' as 'resnet18', 'layer1')).toThrow(
      /^layerInfo\(\): backbone must be one of resnet18, resnet34, resnet50, wide_resnet50_2 — got "resnet19"\. Use one of the listed names\.$/,
    );
    expect(() => layerInfo('resnet18', 'layer5' as 'layer1')).toThrow(
      /^layerInfo\(\): layer must be one of layer1, layer2, layer3, layer4, avgpool — got "layer5"\./,
    );
  });
});
