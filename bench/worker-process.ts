/**
 * The parent's side of a benchmark worker: forks a bundled worker under plain
 * `node` with a minimal environment (static credentials, a region, the
 * instance metadata lookup disabled, no inherited AWS settings or proxies),
 * sends it commands and waits for each reply within a stated bound. Every
 * worker ever started is killed when the benchmark exits, however it exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { CommandMessage, WorkerMessage } from './workers/protocol.js';

/** Longest a worker may take to load; many start at once on two cores. */
const WORKER_READY_TIMEOUT_MS = 90_000;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** What a worker process may see of the environment, and nothing else. */
export function workerEnvironment(region: string, extra: Record<string, string> = {}) {
  return {
    PATH: process.env.PATH,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
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

  /** Forks the bundle `file` with `args` (and `node` flags) and resolves once it reports ready. */
  static async start(
    name: string,
    file: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    nodeFlags: string[] = [],
  ): Promise<WorkerProcess> {
    const child = fork(file, args, {
      execArgv: nodeFlags,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const worker = new WorkerProcess(name, child);
    await worker.ready();
    return worker;
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

  private ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`worker ${this.name} not ready in ${WORKER_READY_TIMEOUT_MS} ms`));
      }, WORKER_READY_TIMEOUT_MS);
      this.child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.exitReason}: ${this.output.join('').slice(0, 500)}`));
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
export async function startWorkers(
  count: number,
  start: (index: number) => Promise<WorkerProcess>,
): Promise<WorkerProcess[]> {
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
