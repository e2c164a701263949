import { describe, expect, it } from 'vitest';
import { backboneFlops } from './flops';

describe('backboneFlops', () => {
  // torchvision's published counts at 224×224: resnet18 1.81 GMACs, resnet50 4.09 GMACs (full network,
  // the fc layer's 0.5 M / 2 M MACs included, which we do not count).
  it('matches the published multiply-adds of resnet18 and resnet50 at 224 px', () => {
    expect(backboneFlops('resnet18', 'layer4', 224).multiplyAdds / 1e9).toBeCloseTo(1.81, 2);
    expect(backboneFlops('resnet50', 'layer4', 224).multiplyAdds / 1e9).toBeCloseTo(4.09, 1);
  });

  it('resnet18 → layer3 at 256 px (the DFM recipe)', () => {
    const { flops, convs } = backboneFlops('resnet18', 'layer3', 256);
    expect(convs).toBe(1 + 4 + 5 + 5);
    expect(flops / 1e9).toBeCloseTo(3.66, 2);
  });
});
