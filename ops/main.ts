/**
 * The operations CLI as a function of its arguments and standard streams:
 * parse, resolve the target, run one command, print a table or JSON, and
 * answer an exit code (see `errors.ts`). Errors go to standard error as one
 * line; with `--json` standard output also gets `{ "error": { code, message } }`.
 */
import type { Writable } from 'node:stream';
import { TokenEndpointClient } from '../shared/token-endpoint.js';
import type { Log } from '../shared/logger.js';
import { parseCommandLine } from './arguments.js';
import type { CommandId } from './command-specs.js';
import type { CommandResult, OpsContext } from './context.js';
import { EXIT_CODES, OpsError, UsageError, type ExitCode } from './errors.js';
import { PROGRAM_NAME } from './help.js';
import { profileAdd, profileList, profileRotate, profileShow } from './profiles.js';
import { readAll, readSecret, type TerminalInput } from './secret-input.js';
import { syncLast, syncRun } from './sync.js';
import { awsClients, resolveTarget, type AwsClients } from './target.js';
import { tokensPurge, tokensStatus } from './tokens.js';

export interface CliStreams {
  stdin: TerminalInput;
  stdout: Writable;
  stderr: Writable;
}

type Run = (
  ctx: OpsContext,
  args: Record<string, string>,
  options: CommandOptions,
) => Promise<CommandResult>;
type CommandOptions = Record<string, string | boolean | undefined>;

const RUNS: Record<CommandId, Run> = {
  'profile add': (ctx, args, options) => profileAdd(ctx, args.name!, options),
  'profile list': (ctx) => profileList(ctx),
  'profile show': (ctx, args) => profileShow(ctx, args.name!),
  'profile rotate': (ctx, args, options) => profileRotate(ctx, args.name!, options),
  'tokens status': (ctx, _args, options) =>
    tokensStatus(ctx, typeof options.profile === 'string' ? options.profile : undefined),
  'tokens purge': (ctx, args) => tokensPurge(ctx, args.name!),
  'sync run': (ctx, _args, options) => syncRun(ctx, options),
  'sync last': (ctx, _args, options) => syncLast(ctx, options),
};

export async function runCli(argv: readonly string[], streams: CliStreams): Promise<ExitCode> {
  let json = argv.includes('--json');
  let clients: AwsClients | undefined;
  try {
    const line = parseCommandLine(argv);
    if (line.kind === 'help') {
      streams.stdout.write(line.text);
      return EXIT_CODES.ok;
    }
    json = line.global.json;

    const stdin = oneReaderOf(streams.stdin);
    const target = await resolveTarget(line.global, stdin.readAll);
    clients = awsClients(target);
    const ctx: OpsContext = {
      target,
      clients,
      readSecret: (label, fromStdin) =>
        readSecret({
          fromStdin,
          input: fromStdin ? stdin.claim() : streams.stdin,
          promptOutput: streams.stderr,
          label,
        }),
      tokenEndpoint: new TokenEndpointClient({ log: stderrLog(streams.stderr) }),
      clock: Date.now,
    };

    const result = await RUNS[line.command](ctx, line.args, line.options);
    streams.stdout.write(json ? `${JSON.stringify(result.data, null, 2)}\n` : result.text);
    return result.exitCode ?? EXIT_CODES.ok;
  } catch (error) {
    return reportError(error, json, streams);
  } finally {
    clients?.destroy();
  }
}

function reportError(error: unknown, json: boolean, streams: CliStreams): ExitCode {
  const failure =
    error instanceof OpsError
      ? error
      : new OpsError(
          'unexpected',
          `unexpected ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
          EXIT_CODES.failed,
        );
  streams.stderr.write(`${PROGRAM_NAME}: ${failure.message}\n`);
  if (json) {
    const reply = {
      error: { code: failure.code, message: failure.message, exitCode: failure.exitCode },
    };
    streams.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
  }
  return failure.exitCode;
}

/** Standard input serves one purpose per run: `--local -` or `--secret-stdin`, not both. */
function oneReaderOf(input: TerminalInput) {
  let claimed = false;
  const claim = () => {
    if (claimed) {
      throw new UsageError(
        'standard input can hold either the --local line or the secret, not both',
      );
    }
    claimed = true;
    return input;
  };
  return { claim, readAll: () => readAll(claim()) };
}

/**
 * The token endpoint client's retry warnings, one line each on standard
 * error. Their fields (status, reason, client id, token URL) hold no secret.
 */
function stderrLog(stderr: Writable): Log {
  const write =
    (level: string) =>
    (message: unknown, ...extra: unknown[]) => {
      const fields = extra.find((value) => typeof value === 'object' && value !== null) ?? {};
      stderr.write(`${PROGRAM_NAME}: ${level}: ${String(message)} ${JSON.stringify(fields)}\n`);
    };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: write('warning'),
    error: write('error'),
  } as Log;
}
