/**
 * Serves the product's Lambda functions on 127.0.0.1 for the local stack, by
 * running serverless-offline (through the osls CLI) as a child process. The
 * functions are bundled by serverless-esbuild exactly as for deployment and
 * run in worker threads that stay warm between invocations, as on Lambda.
 *
 * Point `AWS_ENDPOINT_URL_LAMBDA` of a caller at `endpoint` and invoke the
 * names `functionName()` returns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { devNull } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LOOPBACK_HOST } from './free-port.js';
import { SERVICE_NAME } from './tables.js';

/** Keys of the functions in `serverless.yml`. */
export type LocalFunctionKey = 'tokenBroker' | 'stockSync';

export interface LocalLambdaOptions {
  /** Service directory holding `serverless.yml`; default the repository root. */
  cwd?: string;
  /** Stage to serve; default `local`, whose parameters never point at Farfetch. */
  stage?: string;
  /**
   * Environment of the child on top of safe defaults: `AWS_ENDPOINT_URL_*`,
   * credentials, region. serverless-offline hands every `AWS_*` variable on
   * to the functions; any other setting must reach them through `params`.
   * `AWS_ENDPOINT_URL_LAMBDA` defaults to this server itself, and
   * `AWS_ENDPOINT_URL` to a closed loopback port.
   */
  env: Record<string, string>;
  /** `serverless.yml` parameters, each passed as `--param="key=value"`. */
  params?: Record<string, string>;
  /** Receives every output line of the child, functions' logs included. */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How long bundling and start may take; default 60 000 ms. */
  startTimeoutMs?: number;
}

export interface LocalLambda {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_LAMBDA`. */
  endpoint: string;
  /** Deployed-style name of a function, e.g. `token-broker-local-tokenBroker`. */
  functionName(key: LocalFunctionKey): string;
  /** Stops the child and everything it started; safe to call twice. */
  stop(): Promise<void>;
}

/** A local Lambda server that did not come up; `output` holds its last lines. */
export class LocalLambdaStartError extends Error {
  override readonly name: string = 'LocalLambdaStartError';
  readonly output: string[];

  constructor(message: string, output: string[], options: { cause?: unknown } = {}) {
    super([`serverless-offline ${message}`, ...output].join('\n'), options);
    this.output = output;
  }
}

export const DEFAULT_LOCAL_STAGE = 'local';
export const DEFAULT_START_TIMEOUT_MS = 60_000;

/** How long a stopping child may take to end on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** Lines of output kept to explain a failed start. */
const START_OUTPUT_LINES = 40;

/**
 * Read by `serverless.yml` (`custom.esbuild.outputWorkFolder`): each child
 * bundles into its own `.esbuild/<workspace>`, so two of them, or one and
 * `npm run package`, never delete each other's bundles.
 */
const ESBUILD_WORKSPACE_ENV = 'TOKEN_BROKER_ESBUILD_WORKSPACE';

/**
 * Every AWS SDK client of a function goes to a closed loopback port unless
 * the caller names a service endpoint (`AWS_ENDPOINT_URL_<SERVICE>` wins over
 * this one), so a forgotten endpoint fails fast instead of reaching AWS.
 */
const UNCONFIGURED_AWS_ENDPOINT = `http://${LOOPBACK_HOST}:9`;

const LISTENING_LINE = /Offline \[http for lambda\] listening on (https?:\/\/\S+)/;

const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Bundles the functions and serves them through serverless-offline on
 * 127.0.0.1. Resolves once the Lambda endpoint listens; rejects with a
 * `LocalLambdaStartError` if the child exits or `startTimeoutMs` passes first,
 * leaving no process behind either way.
 */
export async function startLocalLambda(options: LocalLambdaOptions): Promise<LocalLambda> {
  const cwd = options.cwd ?? REPOSITORY_ROOT;
  const stage = options.stage ?? DEFAULT_LOCAL_STAGE;
  const { lambdaPort, httpPort } = await reservePorts();
  const workspace = `offline-${process.pid}-${lambdaPort}`;
  const lambdaEndpoint = `http://${LOOPBACK_HOST}:${lambdaPort}`;

  const child = spawn(
    process.execPath,
    [oslsEntryPoint(cwd), ...offlineArguments(stage, lambdaPort, httpPort, options.params)],
    {
      cwd,
      env: childEnvironment(options.env, lambdaEndpoint, workspace),
      // Its own process group, so stopping reaches esbuild and any worker too.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const running = new RunningChild(child, path.join(cwd, '.esbuild', workspace));

  try {
    const endpoint = await running.waitUntilListening(
      options.onLog,
      options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    );
    return {
      endpoint,
      functionName: (key) => `${SERVICE_NAME}-${stage}-${key}`,
      stop: () => running.stop(),
    };
  } catch (error) {
    await running.stop();
    throw error;
  }
}

function oslsEntryPoint(cwd: string): string {
  return path.join(cwd, 'node_modules', 'osls', 'bin', 'serverless.js');
}

function offlineArguments(
  stage: string,
  lambdaPort: number,
  httpPort: number,
  params: Record<string, string> = {},
): string[] {
  return [
    'offline',
    'start',
    '--stage',
    stage,
    '--host',
    LOOPBACK_HOST,
    '--lambdaPort',
    String(lambdaPort),
    '--httpPort',
    String(httpPort),
    '--noSponsor',
    ...Object.entries(params).map(([key, value]) => `--param=${key}=${value}`),
  ];
}

/**
 * Only what Node and the CLI need is taken from this process: its AWS
 * settings (a real profile, real credentials) must never reach a function.
 */
function childEnvironment(
  env: Record<string, string>,
  lambdaEndpoint: string,
  workspace: string,
): NodeJS.ProcessEnv {
  const inherited = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT'].filter(
    (name) => process.env[name] !== undefined,
  );
  return {
    ...Object.fromEntries(inherited.map((name) => [name, process.env[name]])),
    NO_COLOR: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: devNull,
    AWS_SHARED_CREDENTIALS_FILE: devNull,
    AWS_ACCESS_KEY_ID: 'local-lambda-key',
    AWS_SECRET_ACCESS_KEY: 'local-lambda-secret',
    AWS_ENDPOINT_URL: UNCONFIGURED_AWS_ENDPOINT,
    // The stock sync invokes the broker through this very server.
    AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
    ...env,
    [ESBUILD_WORKSPACE_ENV]: workspace,
  };
}

/**
 * Ports the kernel reports free on 127.0.0.1. serverless-offline cannot be
 * given port 0 (it prints the 0 back), so each port is taken, read and
 * released; both are held at once so they differ from each other.
 */
async function reservePorts(): Promise<{ lambdaPort: number; httpPort: number }> {
  const lambdaServer = await listenOnAnyPort();
  const httpServer = await listenOnAnyPort();
  const ports = { lambdaPort: portOf(lambdaServer), httpPort: portOf(httpServer) };
  await Promise.all([closeServer(lambdaServer), closeServer(httpServer)]);
  return ports;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The serverless-offline child, its process group and its work folder. */
class RunningChild {
  readonly #child: ChildProcess;
  readonly #workFolder: string;
  readonly #exited: Promise<void>;
  readonly #killOnExit = () => {
    this.#killGroup('SIGKILL');
    rmSync(this.#workFolder, { recursive: true, force: true });
  };
  #stopping: Promise<void> | undefined;

  constructor(child: ChildProcess, workFolder: string) {
    this.#child = child;
    this.#workFolder = workFolder;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      // A child that could not be spawned never exits.
      child.once('error', () => resolve());
    });
    // A test run that fails or exits early must not leave the server behind.
    process.once('exit', this.#killOnExit);
  }

  waitUntilListening(onLog: LocalLambdaOptions['onLog'], timeoutMs: number): Promise<string> {
    const recentOutput: string[] = [];

    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new LocalLambdaStartError(`not listening after ${timeoutMs} ms`, recentOutput)),
        timeoutMs,
      );
      const onLine = (line: string, stream: 'stdout' | 'stderr') => {
        onLog?.(line, stream);
        recentOutput.push(line);
        if (recentOutput.length > START_OUTPUT_LINES) recentOutput.shift();

        const listening = LISTENING_LINE.exec(line);
        if (listening?.[1]) {
          clearTimeout(timer);
          resolve(listening[1]);
        }
      };

      this.#forwardLines('stdout', onLine);
      this.#forwardLines('stderr', onLine);
      this.#child.once('error', (error) => {
        clearTimeout(timer);
        reject(new LocalLambdaStartError('could not be spawned', recentOutput, { cause: error }));
      });
      // 'close', not 'exit': by then every line the child wrote has been read.
      this.#child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(
          new LocalLambdaStartError(`exited (${code ?? signal}) before listening`, recentOutput),
        );
      });
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#terminate();
    return this.#stopping;
  }

  async #terminate(): Promise<void> {
    this.#killGroup('SIGTERM');
    const forced = setTimeout(() => this.#killGroup('SIGKILL'), STOP_GRACE_MS);
    await this.#exited;
    clearTimeout(forced);

    // The CLI is gone; anything of its group still around (esbuild) goes too.
    this.#killGroup('SIGKILL');
    process.off('exit', this.#killOnExit);
    await rm(this.#workFolder, { recursive: true, force: true });
  }

  #forwardLines(
    stream: 'stdout' | 'stderr',
    onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  ): void {
    const source = this.#child[stream];
    if (!source) return;
    createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) =>
      onLine(line.replace(ANSI_ESCAPE, ''), stream),
    );
  }

  #killGroup(signal: NodeJS.Signals): void {
    if (this.#child.pid === undefined) return;
    try {
      process.kill(-this.#child.pid, signal);
    } catch {
      // ESRCH: the group has already ended.
    }
  }
}
