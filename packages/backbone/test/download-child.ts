/**
 * Child process for the interrupted-download test: resolves `url` into `cacheDir` and prints
 * `progress` once the first bytes have arrived, so the parent can SIGKILL it mid-download.
 * Usage: node --import tsx download-child.ts <url> <cacheDir>
 */
import { resolveWeights } from '../src/resolve-weights';

const [url, cacheDir] = process.argv.slice(2) as [string, string];
let told = false;
await resolveWeights(url, {
  cacheDir,
  onProgress: ({ receivedBytes }) => {
    if (!told && receivedBytes > 0) {
      told = true;
      process.stdout.write('progress\n');
    }
  },
});
process.stdout.write('done\n');
