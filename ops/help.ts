/**
 * Help pages of the operations CLI, rendered from the command specs so that
 * every accepted option is documented, with the exit codes on every page.
 */
import {
  COMMAND_GROUPS,
  COMMANDS,
  GLOBAL_OPTIONS,
  type CommandSpec,
  type OptionSpec,
} from './command-specs.js';
import { EXIT_CODES } from './errors.js';

export const PROGRAM_NAME = 'token-broker-ops';

const EXIT_CODE_LINES = [
  'Exit codes:',
  `  ${EXIT_CODES.ok}  done`,
  `  ${EXIT_CODES.failed}  the operation failed (token refused, AWS error, sync run failed)`,
  `  ${EXIT_CODES.usage}  usage error (unknown command or option, missing or invalid value)`,
  `  ${EXIT_CODES.notFound}  not found (profile, secret, table or function)`,
];

const TARGET_LINES = [
  'Credentials and region come from the usual AWS environment variables and profile. ' +
    'Endpoints come only from AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER ' +
    'and AWS_ENDPOINT_URL_LAMBDA; --local sets them from the local stack.',
];

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.id.length));
  return lines([
    `Usage: ${PROGRAM_NAME} <command> [options]     (or: npm run -s ops -- <command> ...)`,
    '',
    'Operates the token broker and the stock sync of one stage.',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.id.padEnd(width)}  ${command.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...wrap(TARGET_LINES),
    '',
    `Run \`${PROGRAM_NAME} <command> --help\` for a command's options.`,
    '',
    ...EXIT_CODE_LINES,
  ]);
}

export function groupHelp(group: (typeof COMMAND_GROUPS)[number]): string {
  const commands = COMMANDS.filter((command) => command.id.startsWith(`${group} `));
  const width = Math.max(...commands.map((command) => command.id.length));
  return lines([
    `Usage: ${PROGRAM_NAME} ${group} <${commands.map((c) => c.id.split(' ')[1]).join('|')}> [options]`,
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.id.padEnd(width)}  ${command.summary}`),
    '',
    ...EXIT_CODE_LINES,
  ]);
}

export function commandHelp(spec: CommandSpec): string {
  const positionals = spec.positionals.map((name) => ` <${name}>`).join('');
  const ownOptions = Object.keys(spec.options).length
    ? ['Options:', ...optionLines(spec.options), '']
    : [];
  return lines([
    `Usage: ${PROGRAM_NAME} ${spec.id}${positionals} [options]`,
    '',
    `${capitalised(spec.summary)}.`,
    ...(spec.details.length ? ['', ...wrap(spec.details)] : []),
    '',
    ...ownOptions,
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...EXIT_CODE_LINES,
  ]);
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const labels = Object.entries(options).map(
    ([name, option]) => `--${name}${option.value ? ` ${option.value}` : ''}`,
  );
  const width = Math.max(...labels.map((label) => label.length));
  return Object.values(options).map(
    (option, index) => `  ${labels[index]!.padEnd(width)}  ${option.description}`,
  );
}

/** Paragraphs wrapped at 80 columns, separated by blank lines. */
function wrap(paragraphs: readonly string[]): string[] {
  return paragraphs.flatMap((paragraph, index) => {
    const wrapped: string[] = [];
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line && line.length + word.length + 1 > 80) {
        wrapped.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) wrapped.push(line);
    return index === 0 ? wrapped : ['', ...wrapped];
  });
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function lines(list: string[]): string {
  return `${list.join('\n')}\n`;
}
