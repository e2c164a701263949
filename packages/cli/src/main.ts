import { VERSION } from './version';

const USAGE = `dfm ${VERSION}: DFM anomaly detection

Usage: dfm <command> [options]

Commands (filled in by the CLI issue):
  train     fit on normal images and save model.dfm
  test      fit (or load) and evaluate
  predict   score images with a saved model
  export    write a self-contained model folder
  bench     run the performance benchmark
  demo      fit and test on the MVTec bottle development assets

Options:
  --version   print the version
  --help      print this help
`;

/** Runs the CLI with `argv` (without node and the script) and resolves to the exit code. */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    out.write(USAGE);
    return 0;
  }
  if (command === '--version') {
    out.write(`${VERSION}\n`);
    return 0;
  }
  err.write(`dfm: '${command}' is not available yet in this build. Run 'dfm --help' for the commands.\n`);
  return 2;
}
