/**
 * Reads a client secret (or a private key) without it ever being an
 * argument: from standard input when asked, otherwise from a prompt on the
 * terminal that does not echo what is typed. The value is returned to the
 * caller only; nothing here writes it anywhere.
 */
import type { Readable, Writable } from 'node:stream';
import { OperationError, UsageError } from './errors.js';

/** Standard input is read up to this size; a profile secret is far smaller. */
export const SECRET_INPUT_MAX_BYTES = 64 * 1024;

/** The terminal side of standard input, as `process.stdin` is when it is a TTY. */
export interface TerminalInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface SecretSource {
  /** `--secret-stdin` was given. */
  fromStdin: boolean;
  input: TerminalInput;
  /** Where the prompt is written: standard error, so standard output stays data. */
  promptOutput: Writable;
  /** What to ask for, e.g. `client secret for farfetch`. */
  label: string;
}

/** The secret, without the trailing newline a pipe or a here-string adds. */
export async function readSecret(source: SecretSource): Promise<string> {
  let value: string;
  if (source.fromStdin) {
    value = (await readAll(source.input)).replace(/\r?\n$/, '');
  } else if (source.input.isTTY && source.input.setRawMode) {
    value = await promptHidden(source.input, source.promptOutput, `${source.label}: `);
  } else {
    throw new UsageError(
      'standard input is not a terminal to prompt on; pipe the secret and pass --secret-stdin',
    );
  }
  if (value.trim() === '') throw new UsageError(`the ${source.label} is empty`);
  return value;
}

/** All of a stream as UTF-8, refusing more than `SECRET_INPUT_MAX_BYTES`. */
export async function readAll(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > SECRET_INPUT_MAX_BYTES) {
      throw new UsageError(`standard input holds more than ${SECRET_INPUT_MAX_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads one line from a terminal in raw mode, echoing nothing. Enter ends
 * it, Backspace removes the last character, Ctrl-C cancels (exit code 1).
 */
export function promptHidden(input: TerminalInput, output: Writable, prompt: string) {
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new OperationError('cancelled', 'cancelled at the prompt'));
          return;
        }
        value = char === '\u007f' || char === '\b' ? value.slice(0, -1) : value + char;
      }
    };
    output.write(prompt);
    input.setRawMode?.(true);
    input.on('data', onData);
    input.resume();
  });
}
