/**
 * The parent's side of a broker worker: forks `broker-worker.ts` under tsx
 * with a minimal environment (static credentials, a region, the instance
 * metadata lookup disabled, no inherited AWS settings or proxies), sends it
 * commands and waits for each reply within a stated bound. A worker that
 * exits fails every command still waiting on it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  CommandMessage,
  WorkerCommand,
  WorkerConfig,
  WorkerMessage,
  WorkerReplies,
} from './worker-protocol.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./broker-worker.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Longest a worker may take to load tsx, the SDK and the broker. */
export const WORKER_READY_TIMEOUT_MS = 15_000;

/** What a worker process may see of the environment, and nothing else. */
function workerEnvironment(region: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'fleet-test',
    AWS_SECRET_ACCESS_KEY: 'fleet-test',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class FleetWorker {
  /** Whatever the worker printed; it should print nothing. */
  readonly output: string[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitReason: string | undefined;

  private constructor(
    readonly environmentId: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.on('message', (message: WorkerMessage) => this.settle(message));
    child.on('exit', (code, signal) => this.failAll(`worker exited (${signal ?? code})`));
  }

  /** Forks a worker and resolves once it reports ready. */
  static async start(config: WorkerConfig): Promise<FleetWorker> {
    const child = fork(WORKER_SCRIPT, [JSON.stringify(config)], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      env: workerEnvironment(config.region),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const worker = new FleetWorker(config.environmentId, child);
    await worker.ready();
    return worker;
  }

  get alive(): boolean {
    return this.exitReason === undefined;
  }

  /** Sends one command; rejects if no reply comes within `timeoutMs` or the worker exits. */
  request<C extends WorkerCommand>(
    command: C,
    timeoutMs: number,
  ): Promise<WorkerReplies[C['type']]> {
    if (this.exitReason) return Promise.reject(new Error(this.exitReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${command.type} on ${this.environmentId} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.child.send({ id, command } satisfies CommandMessage);
    });
  }

  /** SIGKILL, as when Lambda freezes an environment for good or it crashes. */
  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }

  /** Kills the worker and resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  private ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(
          new Error(`worker ${this.environmentId} not ready in ${WORKER_READY_TIMEOUT_MS} ms`),
        );
      }, WORKER_READY_TIMEOUT_MS);
      this.child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `worker ${this.environmentId} exited before it was ready (${signal ?? code}): ` +
              this.output.join('').slice(-2000),
          ),
        );
      });
    });
  }

  private settle(message: WorkerMessage): void {
    if (message.type === 'ready') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.type === 'reply') pending.resolve(message.result);
    else pending.reject(new Error(`worker ${this.environmentId}: ${message.reason}`));
  }

  private failAll(reason: string): void {
    this.exitReason = reason;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`${this.environmentId}: ${reason}`));
      this.pending.delete(id);
    }
  }
}
