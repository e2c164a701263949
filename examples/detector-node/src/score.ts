import { readdirSync } from 'node:fs';
import { loadDetector } from '@dfm/core';

const [model, folder] = process.argv.slice(2) as [string, string]; // tsx src/score.ts model.dfm photos/
const detector = await loadDetector(model); // the model file's pre-processing, network, PCA and thresholds
const paths = readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((file) => /\.(png|jpe?g|bmp|tiff?|webp)$/i.test(file)).sort().map((file) => `${folder}/${file}`);
const results = await detector.predictBatch(paths, { map: false }); // decoded and resized exactly as at training
for (const [i, { predScore, normalizedScore, predLabel }] of results.entries()) process.stdout.write(`${JSON.stringify({ path: paths[i], predScore, normalizedScore, predLabel })}\n`);
await detector.close();
