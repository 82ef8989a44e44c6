import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../ops/arguments.js';
import { COMMANDS } from '../../../ops/command-specs.js';
import { UsageError } from '../../../ops/errors.js';

function usageErrorOf(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('parseCommandLine', () => {
  it('names the command, its positional arguments and its options', () => {
    const line = parseCommandLine([
      'profile',
      'add',
      'farfetch',
      '--client-id',
      'ff_amazing_client',
      '--token-url=https://authbo.farfetch.net/connect/token',
      '--secret-stdin',
      '--check',
    ]);

    expect(line).toMatchObject({
      kind: 'run',
      command: 'profile add',
      args: { name: 'farfetch' },
      options: {
        'client-id': 'ff_amazing_client',
        'token-url': 'https://authbo.farfetch.net/connect/token',
        'secret-stdin': true,
        check: true,
        scopes: undefined,
      },
      global: { json: false },
    });
  });

  it('takes global options before or after the command', () => {
    const line = parseCommandLine([
      '--stage',
      'prod',
      'tokens',
      'status',
      '--region',
      'eu-west-1',
      '--json',
      '--secret-prefix',
      'team/clients/',
    ]);

    expect(line).toMatchObject({
      kind: 'run',
      command: 'tokens status',
      global: { stage: 'prod', region: 'eu-west-1', json: true, secretPrefix: 'team/clients/' },
    });
  });

  it('leaves the stage unset when none is given, so --local can choose it', () => {
    const line = parseCommandLine(['--local', 'stack.json', 'sync', 'last']);

    expect(line).toMatchObject({ global: { local: 'stack.json' } });
    expect(line.kind === 'run' && line.global.stage).toBeUndefined();
  });

  it.each([
    [['--help'], 'Usage: token-broker-ops <command>'],
    [['profile', '--help'], 'Usage: token-broker-ops profile <add|list|show|rotate>'],
    [['profile', 'rotate', '-h'], 'Usage: token-broker-ops profile rotate <name> [options]'],
    [['sync', 'run', 'extra', '--help'], 'Usage: token-broker-ops sync run [options]'],
  ])('answers help for %j', (argv, usage) => {
    const line = parseCommandLine(argv);

    expect(line.kind).toBe('help');
    expect(line.kind === 'help' && line.text).toContain(usage);
  });

  it('documents every option and the exit codes on every command help page', () => {
    for (const command of COMMANDS) {
      const line = parseCommandLine([...command.id.split(' '), '--help']);
      const text = line.kind === 'help' ? line.text : '';

      for (const option of Object.keys(command.options)) expect(text).toContain(`--${option}`);
      expect(text).toContain('Exit codes:');
      expect(text).toMatch(/ 3 {2}not found/);
    }
  });

  it.each([
    ['--secret', ['profile', 'add', 'x', '--secret', 'hunter2']],
    ['--secret', ['profile', 'rotate', 'x', '--secret=hunter2']],
    ['--client-secret', ['profile', 'add', 'x', '--client-secret=hunter2']],
    ['--private-key', ['profile', 'add', 'x', '--private-key', 'hunter2']],
  ])('refuses %s as an argument without repeating its value', (name, argv) => {
    const error = usageErrorOf(argv);

    expect(error.message).toContain(`${name} is refused`);
    expect(error.message).toContain('--secret-stdin');
    expect(error.message).not.toContain('hunter2');
    expect(error.exitCode).toBe(2);
  });

  it.each([
    [[], 'no command given'],
    [['stocks', 'list'], 'unknown command "stocks"'],
    [['profile'], 'profile needs a command'],
    [['profile', 'remove', 'x'], 'unknown command "profile remove"'],
    [['profile', 'show'], 'profile show takes <name>, got 0 argument(s)'],
    [['profile', 'list', 'extra'], 'profile list takes no arguments, got 1 argument(s)'],
    [['tokens', 'status', '--check'], 'option --check does not apply to tokens status'],
    [['sync', 'last', '--nope'], 'unknown option --nope'],
    [['sync', 'last', '--stage'], 'option --stage needs a value'],
    [['sync', 'last', '--stage', 'a/b'], '--stage must be'],
    [['sync', 'last', '--region', 'mars'], '--region must be'],
  ])('refuses %j as a usage error', (argv, message) => {
    expect(usageErrorOf(argv).message).toContain(message);
  });

  it('does not mistake --secret-stdin or --secret-prefix for a secret', () => {
    const line = parseCommandLine([
      'profile',
      'rotate',
      'farfetch',
      '--secret-stdin',
      '--secret-prefix',
      'p/',
    ]);

    expect(line).toMatchObject({
      options: { 'secret-stdin': true },
      global: { secretPrefix: 'p/' },
    });
  });
});
