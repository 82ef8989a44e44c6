/**
 * What every command receives: the target deployment, its SDK clients, a way
 * to read a secret without it being an argument, a token endpoint client for
 * proving credentials, and the clock.
 */
import type { ExitCode } from './errors.js';
import type { AwsClients, Target } from './target.js';
import type { TokenEndpointClient } from '../shared/token-endpoint.js';
import type { Clock } from '../shared/clock.js';

export interface OpsContext {
  target: Target;
  clients: AwsClients;
  /** Reads a secret from standard input or a prompt; `label` says what is asked for. */
  readSecret(label: string, fromStdin: boolean): Promise<string>;
  tokenEndpoint: TokenEndpointClient;
  clock: Clock;
}

/** What a command hands back: data for `--json`, text for people. */
export interface CommandResult {
  data: unknown;
  text: string;
  /** Set when the command ran but its outcome is a failure (a failed sync run). */
  exitCode?: ExitCode;
}
