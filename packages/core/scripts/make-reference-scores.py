#!/usr/bin/python3
"""Reference DFM scores computed with PyTorch + scikit-learn, independently of our TypeScript code.

Recipe (DESIGN.md): torchvision resnet18 loaded from the development safetensors weights (BN folded,
eval mode) -> layer3 -> avg_pool2d(kernel=stride=4) -> flatten -> sklearn PCA(n_components=0.97,
svd_solver='full') fitted on train/good -> FRE = sum of squared reconstruction residuals. NLL uses a
Gaussian on the PCA projection built from the SVD of the centred projections / sqrt(N), without
anomalib's double centring. Images: PIL decode -> RGB -> resize 256x256 with PIL's antialiased
BILINEAR -> ImageNet normalisation.

Usage: /usr/bin/python3 packages/core/scripts/make-reference-scores.py [ASSETS_DIR] [CATEGORY...]
Writes packages/core/test/fixtures/<category>-reference-scores.json. Deterministic (no randomness);
seed recorded as "none".
"""
import json, os, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('DFM_ASSETS_DIR', os.path.join(HERE, '..', '..', '..', '..', 'shared', 'assets'))
CATEGORIES = sys.argv[2:] or ['mvtec-bottle', 'magnetic-tile']
WEIGHTS = os.path.join(ASSETS, 'weights', 'resnet18-imagenet-layer1-3.safetensors')
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
torch.set_num_threads(2)


def read_safetensors(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info['dtype']
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(info['shape']).copy())
    return out


def make_backbone():
    net = torchvision.models.resnet18()
    missing, unexpected = net.load_state_dict(read_safetensors(WEIGHTS), strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith(('layer4.', 'fc.')) for k in missing), missing
    return net.eval()


def layer3(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer3(net.layer2(net.layer1(x)))


def load(path):
    img = Image.open(path).convert('RGB').resize((256, 256), Image.BILINEAR)
    arr = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def features(net, paths, batch=16):
    out = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            x = torch.stack([load(p) for p in paths[i:i + batch]])
            f = F.avg_pool2d(layer3(net, x), 4)
            out.append(f.reshape(f.shape[0], -1).numpy().astype(np.float64))
    return np.concatenate(out)


def listing(root, split):
    items = []
    for defect in sorted(os.listdir(os.path.join(root, split))):
        folder = os.path.join(root, split, defect)
        for name in sorted(os.listdir(folder)):
            items.append((os.path.join(folder, name), 0 if defect == 'good' else 1))
    return items


def run(category):
    root = os.path.join(ASSETS, 'data', category)
    net = make_backbone()
    t0 = time.time()
    train = [p for p, _ in listing(root, 'train')]
    test = listing(root, 'test')
    bank = features(net, train)
    feats = features(net, [p for p, _ in test])
    pca = PCA(n_components=0.97, svd_solver='full').fit(bank)
    z_test = (feats - pca.mean_) @ pca.components_.T
    fre = ((feats - (pca.mean_ + z_test @ pca.components_)) ** 2).sum(axis=1)
    z_train = (bank - pca.mean_) @ pca.components_.T
    m = z_train.mean(axis=0)
    _, s, vt = np.linalg.svd((z_train - m) / np.sqrt(len(z_train)), full_matrices=False)
    keep = s > s[0] * 1e-12
    u, sigma = vt.T[:, keep], s[keep]
    nll = (((z_test - m) @ u / sigma) ** 2).sum(axis=1) + 2 * np.log(sigma).sum()
    labels = np.array([l for _, l in test])
    result = {
        'header': {
            'script': 'packages/core/scripts/make-reference-scores.py',
            'seed': 'none (deterministic)',
            'torch': torch.__version__, 'torchvision': torchvision.__version__, 'sklearn': __import__('sklearn').__version__,
            'recipe': 'resnet18 layer3 (weights/resnet18-imagenet-layer1-3.safetensors), avg_pool2d 4, flatten, '
                      'PCA 0.97 (sklearn full SVD), 256x256 PIL BILINEAR antialiased, ImageNet normalisation',
            'seconds': round(time.time() - t0, 1),
        },
        'category': category,
        'nTrain': len(train), 'nFeatures': int(bank.shape[1]), 'nComponents': int(pca.n_components_),
        'auroc': {'fre': roc_auc_score(labels, fre), 'nll': roc_auc_score(labels, nll)},
        'test': [{'path': os.path.relpath(p, root), 'label': int(l), 'fre': float(a), 'nll': float(b)}
                 for (p, l), a, b in zip(test, fre, nll)],
    }
    out = os.path.join(HERE, '..', 'test', 'fixtures', f'{category}-reference-scores.json')
    with open(out, 'w') as fh:
        json.dump(result, fh, indent=1)
    print(category, 'k =', result['nComponents'], 'AUROC', result['auroc'], 'in', result['header']['seconds'], 's')


for c in CATEGORIES:
    run(c)
