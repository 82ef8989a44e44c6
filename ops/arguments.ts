/**
 * The command line of the operations CLI, parsed with `node:util` parseArgs:
 * the command words, its positional arguments and options, and the global
 * options. Anything the parser cannot run is a `UsageError` (exit code 2)
 * whose message names the option or argument at fault without echoing values.
 */
import { parseArgs } from 'node:util';
import {
  COMMAND_GROUPS,
  COMMANDS,
  GLOBAL_OPTIONS,
  type CommandId,
  type OptionSpec,
} from './command-specs.js';
import { UsageError } from './errors.js';
import { commandHelp, groupHelp, topHelp } from './help.js';

export interface GlobalOptions {
  /** Given explicitly; the default depends on `local`. */
  stage?: string;
  region?: string;
  secretPrefix?: string;
  /** JSON file of `npm run -s stack`, or `-` for standard input. */
  local?: string;
  json: boolean;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export type CommandLine =
  | { kind: 'help'; text: string }
  | {
      kind: 'run';
      command: CommandId;
      /** Positional arguments by the names the spec gives them. */
      args: Record<string, string>;
      options: OptionValues;
      global: GlobalOptions;
    };

/**
 * Options that would put a credential on the command line, where shell
 * history and process listings keep it. Refused before anything else is
 * parsed, with a message that never repeats the value.
 */
const CREDENTIAL_OPTION = /^--(secret|client-secret|client_secret|private-key|password)(=|$)/;

const STAGE = /^[A-Za-z0-9-]{1,32}$/;

export function parseCommandLine(argv: readonly string[]): CommandLine {
  rejectCredentialArguments(argv);
  const { values, positionals, tokens } = parseKnownOptions(argv);
  const [group, action, ...rest] = positionals;

  if (values.help === true) return { kind: 'help', text: helpFor(group, action) };
  if (group === undefined) throw new UsageError(`no command given; run with --help`);
  if (!isGroup(group)) throw new UsageError(`unknown command "${group}"; run with --help`);
  if (action === undefined) throw new UsageError(`${group} needs a command; run ${group} --help`);

  const spec = COMMANDS.find((command) => command.id === `${group} ${action}`);
  if (!spec) throw new UsageError(`unknown command "${group} ${action}"; run ${group} --help`);
  if (rest.length !== spec.positionals.length) {
    const expected = spec.positionals.map((name) => `<${name}>`).join(' ') || 'no arguments';
    throw new UsageError(`${spec.id} takes ${expected}, got ${rest.length} argument(s)`);
  }
  for (const token of tokens) {
    if (
      token.kind === 'option' &&
      !(token.name in GLOBAL_OPTIONS) &&
      !(token.name in spec.options)
    ) {
      throw new UsageError(`option --${token.name} does not apply to ${spec.id}`);
    }
  }

  return {
    kind: 'run',
    command: spec.id,
    args: Object.fromEntries(spec.positionals.map((name, index) => [name, rest[index]!])),
    options: Object.fromEntries(Object.keys(spec.options).map((name) => [name, values[name]])),
    global: globalOptions(values),
  };
}

function rejectCredentialArguments(argv: readonly string[]): void {
  const offending = argv.find((arg) => CREDENTIAL_OPTION.test(arg));
  if (offending === undefined) return;
  const name = offending.split('=')[0];
  throw new UsageError(
    `${name} is refused: a secret given as an argument stays in shell history and process ` +
      'listings. Pipe it with --secret-stdin, or leave that out to be prompted without echo.',
  );
}

function parseKnownOptions(argv: readonly string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of allOptions()) options[name] = { type: spec.type };
  options.help = { type: 'boolean', short: 'h' };
  try {
    return parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), { cause: error });
  }
}

/** Every option of every command, with one type per name. */
function allOptions(): [string, OptionSpec][] {
  const byName = new Map<string, OptionSpec>(Object.entries(GLOBAL_OPTIONS));
  for (const command of COMMANDS) {
    for (const [name, spec] of Object.entries(command.options)) {
      const known = byName.get(name);
      if (known && known.type !== spec.type) throw new Error(`option --${name} has two types`);
      byName.set(name, spec);
    }
  }
  return [...byName];
}

/** parseArgs' own message, shortened; it names options, never their values. */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option ${unknown[1]}; run with --help`;
  const missing = /^Option '(--[\w-]+)[^']*' argument missing/.exec(message);
  if (missing) return `option ${missing[1]} needs a value`;
  // One line: parseArgs explains some errors over several sentences and lines.
  return message.split(/\.\s/)[0] ?? message;
}

function globalOptions(values: OptionValues): GlobalOptions {
  const stage = stringValue(values.stage);
  if (stage !== undefined && !STAGE.test(stage)) {
    throw new UsageError('--stage must be 1 to 32 letters, digits or dashes');
  }
  const region = stringValue(values.region);
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw new UsageError('--region must be an AWS region name such as eu-west-1');
  }
  const secretPrefix = stringValue(values['secret-prefix']);
  if (secretPrefix !== undefined && !/^[\w/+=.@-]{1,256}$/.test(secretPrefix)) {
    throw new UsageError('--secret-prefix holds characters a secret name cannot');
  }
  const local = stringValue(values.local);
  return {
    ...(stage !== undefined ? { stage } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(secretPrefix !== undefined ? { secretPrefix } : {}),
    ...(local !== undefined ? { local } : {}),
    json: values.json === true,
  };
}

function helpFor(group?: string, action?: string): string {
  if (group === undefined || !isGroup(group)) return topHelp();
  const spec = COMMANDS.find((command) => command.id === `${group} ${action}`);
  return spec ? commandHelp(spec) : groupHelp(group);
}

function isGroup(word: string): word is (typeof COMMAND_GROUPS)[number] {
  return (COMMAND_GROUPS as readonly string[]).includes(word);
}

function stringValue(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
