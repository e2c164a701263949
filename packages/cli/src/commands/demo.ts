import { join } from 'node:path';
import { findAssetsDir } from '@dfm/backbone/internal';
import type { CliOptions } from '../options';

/** The development assets the demo runs on (see ../shared/assets/README.md). */
export const DEMO_WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
export const DEMO_DATA = 'data/mvtec-bottle';

/**
 * The demo's options (MVTec AD bottle, resnet18/layer3, the assets' weights), or the text saying how
 * to get the data and weights when the assets are absent.
 */
export function demoSetup(env: Record<string, string | undefined> = process.env): { values: Partial<Record<keyof CliOptions, unknown>>; dir: string } | { missing: string } {
  const assets = findAssetsDir({ require: [DEMO_WEIGHTS, DEMO_DATA], env });
  if (!assets.found || assets.dir === undefined) {
    return {
      missing:
        `dfm demo: the development assets are not available — ${assets.reason}\n\n` +
        'The demo fits DFM on the MVTec AD "bottle" images with ResNet18 (ImageNet weights, layer3) and tests it.\n' +
        'To run the same job on the real dataset:\n' +
        '  1. Download MVTec AD from https://www.mvtec.com/company/research/datasets/mvtec-ad (free for\n' +
        '     non-commercial use) and unpack it, for example to datasets/MVTec (datasets/MVTec/bottle/train/good/...).\n' +
        '  2. pnpm dfm test --data datasets/MVTec --category bottle --backbone resnet18 --layer layer3 --weights imagenet\n' +
        "     (--weights imagenet downloads torchvision's ResNet18 weights once into ~/.cache/dfm; it needs internet.)\n" +
        'Or set DFM_ASSETS_DIR to a folder holding weights/resnet18-imagenet-layer1-3.safetensors and data/mvtec-bottle/.\n',
    };
  }
  return {
    dir: assets.dir,
    values: {
      data: join(assets.dir, 'data'),
      category: 'mvtec-bottle',
      backbone: 'resnet18',
      layer: 'layer3',
      weights: join(assets.dir, DEMO_WEIGHTS),
    },
  };
}
