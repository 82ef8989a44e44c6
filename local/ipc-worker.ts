/**
 * The parent's side of a worker process standing for one Lambda environment,
 * used by the fleet tests and the benchmarks: it forks the worker with a
 * minimal environment (static credentials, a region, the instance metadata
 * lookup disabled, no inherited AWS settings or proxies), sends it commands
 * over IPC and waits for each reply within a stated bound. A worker that exits
 * fails every command still waiting on it, and every worker ever started is
 * killed when the parent exits, however it exits.
 *
 * The worker answers `{ type: 'ready' }` once, then one
 * `{ type: 'reply', id, result }` or `{ type: 'failed', id, reason }` per
 * `{ id, command }` it is sent.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface CommandMessage {
  id: number;
  command: { type: string };
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'failed'; id: number; reason: string };

/** Default bound on a worker's start: many may load at once on two cores. */
const WORKER_READY_TIMEOUT_MS = 90_000;

export interface WorkerStartOptions {
  /** `node` flags, e.g. `['--import', 'tsx']`. */
  nodeFlags?: string[];
  cwd?: string;
  /** Longest the worker may take to report ready; default 90 s. */
  readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** What a worker process may see of the environment, and nothing else. */
export function workerEnvironment(
  region: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'local-worker',
    AWS_SECRET_ACCESS_KEY: 'local-worker',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class WorkerProcess {
  /** Whatever the worker printed; it should print nothing. */
  readonly output: string[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitReason: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    live.add(child);
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.on('message', (message: WorkerMessage) => this.settle(message));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitReason = `worker ${name} exited (${signal ?? code})`;
        this.failAll(this.exitReason);
        resolve();
      }),
    );
  }

  /** Forks `file` with `args` and resolves once it reports ready. */
  static async start(
    name: string,
    file: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    options: WorkerStartOptions = {},
  ): Promise<WorkerProcess> {
    const child = fork(file, args, {
      execArgv: options.nodeFlags ?? [],
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    const worker = new WorkerProcess(name, child);
    await worker.ready(options.readyTimeoutMs ?? WORKER_READY_TIMEOUT_MS);
    return worker;
  }

  get alive(): boolean {
    return this.exitReason === undefined;
  }

  /** SIGKILL, as when Lambda freezes an environment for good or it crashes. */
  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }

  /** Sends one command; rejects if no reply comes within `timeoutMs` or the worker exits. */
  request<R>(command: { type: string; [field: string]: unknown }, timeoutMs: number): Promise<R> {
    if (this.exitReason) return Promise.reject(new Error(this.exitReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${command.type} on ${this.name} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.child.send({ id, command } satisfies CommandMessage);
    });
  }

  /** Kills the worker and resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  private ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`worker ${this.name} not ready in ${timeoutMs} ms`));
      }, timeoutMs);
      this.child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.exitReason}: ${this.output.join('').slice(-2000)}`));
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
    else pending.reject(new Error(`worker ${this.name}: ${message.reason}`));
  }

  private failAll(reason: string): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error(reason));
    }
    this.pending.clear();
  }
}

/** Starts `count` workers at once; if any fails to start, stops the others. */
export async function startWorkers<W extends { stop(): Promise<void> }>(
  count: number,
  start: (index: number) => Promise<W>,
): Promise<W[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i)));
  const workers = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(workers.map((worker) => worker.stop()));
    throw failed.reason;
  }
  return workers;
}
