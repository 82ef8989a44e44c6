import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { OperationError, UsageError } from '../../../ops/errors.js';
import {
  readSecret,
  SECRET_INPUT_MAX_BYTES,
  type TerminalInput,
} from '../../../ops/secret-input.js';

/** A terminal that records raw mode and whatever is written back to it. */
function fakeTerminal() {
  const input = new PassThrough() as PassThrough & TerminalInput;
  input.isTTY = true;
  input.setRawMode = vi.fn();
  const output = new PassThrough();
  const written: string[] = [];
  output.on('data', (chunk: Buffer) => written.push(chunk.toString()));
  return { input, output, written };
}

describe('readSecret from standard input', () => {
  it('reads everything, without the trailing newline of a pipe', async () => {
    const secret = await readSecret({
      fromStdin: true,
      input: Readable.from([Buffer.from('s3cr'), Buffer.from('et\n')]),
      promptOutput: new PassThrough(),
      label: 'client secret for farfetch',
    });

    expect(secret).toBe('s3cret');
  });

  it('keeps a multi-line private key whole', async () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----';

    const key = await readSecret({
      fromStdin: true,
      input: Readable.from([`${pem}\n`]),
      promptOutput: new PassThrough(),
      label: 'private key',
    });

    expect(key).toBe(pem);
  });

  it('refuses empty input and oversized input', async () => {
    const source = (chunks: string[]) => ({
      fromStdin: true,
      input: Readable.from(chunks),
      promptOutput: new PassThrough(),
      label: 'client secret',
    });

    await expect(readSecret(source(['\n']))).rejects.toThrow(
      new UsageError('the client secret is empty'),
    );
    await expect(
      readSecret(source(['x'.repeat(SECRET_INPUT_MAX_BYTES + 1)])),
    ).rejects.toBeInstanceOf(UsageError);
  });

  it('refuses to prompt when standard input is not a terminal', async () => {
    await expect(
      readSecret({
        fromStdin: false,
        input: Readable.from(['s3cret\n']),
        promptOutput: new PassThrough(),
        label: 'client secret',
      }),
    ).rejects.toThrow(/--secret-stdin/);
  });
});

describe('readSecret at a prompt', () => {
  it('reads a line in raw mode and echoes nothing of it', async () => {
    const terminal = fakeTerminal();

    const reading = readSecret({
      fromStdin: false,
      input: terminal.input,
      promptOutput: terminal.output,
      label: 'client secret for farfetch',
    });
    terminal.input.write('s3cx\u007fret');
    terminal.input.write('\r');

    expect(await reading).toBe('s3cret');
    expect(terminal.written.join('')).toBe('client secret for farfetch: \n');
    expect(terminal.input.setRawMode).toHaveBeenNthCalledWith(1, true);
    expect(terminal.input.setRawMode).toHaveBeenLastCalledWith(false);
  });

  it('cancels on Ctrl-C, leaving raw mode', async () => {
    const terminal = fakeTerminal();

    const reading = readSecret({
      fromStdin: false,
      input: terminal.input,
      promptOutput: terminal.output,
      label: 'client secret',
    });
    terminal.input.write('abc\u0003');

    await expect(reading).rejects.toBeInstanceOf(OperationError);
    expect(terminal.input.setRawMode).toHaveBeenLastCalledWith(false);
  });
});
