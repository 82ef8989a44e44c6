/**
 * A fake AWS SDK client for unit tests: each expected command name maps to a
 * handler; any other command is refused, so a test fails loudly on a call it
 * did not plan for. Calls are recorded for counting.
 */
export type CommandHandler = (input: any) => unknown;

export class FakeAwsClient {
  readonly calls: { command: string; input: any }[] = [];

  constructor(private readonly handlers: Record<string, CommandHandler>) {}

  send = async (command: { constructor: { name: string }; input: unknown }): Promise<any> => {
    const name = command.constructor.name;
    this.calls.push({ command: name, input: command.input });
    const handler = this.handlers[name];
    if (!handler) throw new Error(`unexpected AWS command ${name}`);
    return handler(command.input);
  };

  count(command: string): number {
    return this.calls.filter((call) => call.command === command).length;
  }

  /** The fake, typed as the SDK client it stands in for. */
  as<T>(): T {
    return this as unknown as T;
  }
}

/** An SDK-shaped service error, as the SDK would throw it. */
export function serviceError(name: string, fault: 'client' | 'server' = 'client'): Error {
  const error = new Error(`${name} from fake`) as Error & { $fault: string; $metadata: object };
  error.name = name;
  error.$fault = fault;
  error.$metadata = { httpStatusCode: 400 };
  return error;
}
