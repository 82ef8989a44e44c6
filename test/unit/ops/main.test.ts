import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../ops/main.js';

/** Runs the CLI in-process on paths that reach no AWS service. */
async function run(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));

  const code = await runCli(argv, { stdin: Readable.from([]), stdout, stderr });

  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('runCli', () => {
  it('prints help on standard output with exit code 0', async () => {
    const result = await run(['tokens', 'purge', '--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: token-broker-ops tokens purge <name>');
    expect(result.stderr).toBe('');
  });

  it('reports a usage error on standard error with exit code 2', async () => {
    const result = await run(['profile', 'show']);

    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'token-broker-ops: profile show takes <name>, got 0 argument(s)\n',
    });
  });

  it('also answers the error as JSON on standard output with --json', async () => {
    const result = await run(['sync', 'last', '--limit', 'many', '--json']);

    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'usage',
        message: '--limit must be a whole number from 1 to 100',
        exitCode: 2,
      },
    });
  });
});
