import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeWithAssets } from './testing';

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

describeWithAssets('development assets are the documented ones', [WEIGHTS], (asset) => {
  it('the ResNet18 weights file has the sha256 given in the assets README', () => {
    const digest = createHash('sha256').update(readFileSync(asset(WEIGHTS))).digest('hex');
    expect(digest).toBe('7c27e7491f3832cc1d426e20d4fd72aadee2074b8d9a0252bc90db408dfc54cd');
  });
});
