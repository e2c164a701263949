import { DfmError } from '@dfm/errors';
import { runBenchCommand } from './commands/bench';
import { demoSetup } from './commands/demo';
import { runExport } from './commands/export';
import { runPredict } from './commands/predict';
import { runQueue, splitSubcommand } from './commands/queue';
import { runServe } from './commands/serve';
import { runSubmit } from './commands/submit';
import { runTest } from './commands/test';
import { runTrain } from './commands/train';
import { runWorker } from './commands/worker';
import { type ConfigValues, readConfigFile } from './config-file';
import { closest, EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, isUserError, oneLine, UsageError } from './errors';
import { commandHelp, usage } from './help';
import { type Io, makeIo, warn, writeJson } from './io';
import { COMMANDS, type CommandName, type CliOptions, parseFlags, resolveOptions } from './options';
import type { CommandContext } from './setup';
import { VERSION } from './version';

/** The runner of each command; `dfm queue` takes its subcommand (the first argument) too. */
const RUNNERS: Record<CommandName, (ctx: CommandContext, subcommand: string | undefined) => Promise<number>> = {
  train: runTrain,
  test: runTest,
  predict: runPredict,
  export: runExport,
  serve: runServe,
  worker: (ctx) => runWorker(ctx),
  submit: runSubmit,
  queue: runQueue,
  bench: runBenchCommand,
  demo: runTest,
};

/**
 * Runs the CLI with `argv` (without node and the script) and resolves to the exit code:
 * 0 done, 2 a user error (one line on `err` saying the fix), 1 an internal error.
 * With `--json`, `out` receives exactly one JSON document.
 */
export async function main(
  argv: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const verbose = rest.includes('--verbose');
  const io = makeIo(out, err, json, verbose, env);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    if (command === 'help' && topic !== undefined && (COMMANDS as readonly string[]).includes(topic)) out.write(commandHelp(topic as CommandName));
    else out.write(usage());
    return 0;
  }
  if (command === '--version' || command === '-v') {
    out.write(`${VERSION}\n`);
    return 0;
  }
  const started = performance.now();
  const restoreConsole = json ? routeConsoleToStderr() : () => {};
  try {
    if (!(COMMANDS as readonly string[]).includes(command)) {
      const guess = closest(command, COMMANDS);
      throw new UsageError(`dfm: '${command}' is not a command.${guess ? ` Did you mean '${guess}'?` : ''} Commands: ${COMMANDS.join(', ')}. Run 'dfm --help'.`);
    }
    const name = command as CommandName;
    // `dfm queue stats …`: the subcommand comes before the flags.
    const { subcommand, rest: flagArgs } = name === 'queue' ? splitSubcommand(rest) : { subcommand: undefined, rest };
    const { flags, warnings: deprecations } = parseFlags(name, flagArgs);
    if (flags.help === true) {
      out.write(commandHelp(name));
      return 0;
    }
    let layers: Partial<Record<keyof CliOptions, unknown>> = {};
    const warnings: string[] = [];
    for (const message of deprecations) {
      warnings.push(message);
      warn(io, message);
    }
    if (name === 'demo') {
      const setup = demoSetup(env);
      if ('missing' in setup) {
        if (json) writeJson(io, { command: 'demo', skipped: true, reason: setup.missing.split('\n')[0] });
        else out.write(setup.missing);
        return 0;
      }
      layers = setup.values;
    }
    if (typeof flags.config === 'string') {
      const config: ConfigValues = readConfigFile(flags.config, env);
      layers = { ...layers, ...config.values };
      for (const message of config.warnings) {
        warnings.push(message);
        warn(io, message);
      }
    }
    const { options, explicit } = resolveOptions(flags, layers, env);
    return await RUNNERS[name]({ command: name, io, options, explicit, warnings, started }, subcommand);
  } catch (error) {
    return reportError(io, error);
  } finally {
    restoreConsole();
  }
}

/** Prints an error on one line (the stack too with --verbose) and returns the exit code. */
function reportError(io: Io, error: unknown): number {
  const user = isUserError(error);
  const message = oneLine(error instanceof Error ? error.message : String(error));
  const text = message.startsWith('dfm') ? message : `dfm: ${message}`;
  const line = user
    ? `${text.replace(/^dfm( \w+)?: /, (m) => `${m}error: `)}`
    : `dfm: internal error: ${message} (rerun with --verbose for the stack trace)`;
  io.err.write(`${line}\n`);
  if (io.verbose && error instanceof Error && error.stack) io.err.write(`${error.stack}\n`);
  const code = user ? EXIT_USER_ERROR : EXIT_INTERNAL_ERROR;
  const errorCode = error instanceof DfmError ? error.code : 'E_INTERNAL';
  if (io.json) writeJson(io, { error: { message, type: error instanceof Error ? error.name : 'Error', code: errorCode, exitCode: code } });
  return code;
}

/** Keeps stdout for the JSON document: anything a library prints with console.log/info goes to stderr. */
function routeConsoleToStderr(): () => void {
  const target = globalThis.console;
  const { log, info, debug } = target;
  const toStderr = (...args: unknown[]) => target.error(...args);
  target.log = toStderr;
  target.info = toStderr;
  target.debug = toStderr;
  return () => {
    target.log = log;
    target.info = info;
    target.debug = debug;
  };
}
