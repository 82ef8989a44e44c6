/**
 * The parent's side of a broker worker: `broker-worker.ts` forked under tsx
 * through the shared `WorkerProcess`, with commands and replies typed by
 * `worker-protocol.ts`.
 */
import { fileURLToPath } from 'node:url';
import { WorkerProcess, workerEnvironment } from '../../local/ipc-worker.js';
import type { WorkerCommand, WorkerConfig, WorkerReplies } from './worker-protocol.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./broker-worker.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Longest a worker may take to load tsx, the SDK and the broker. */
export const WORKER_READY_TIMEOUT_MS = 15_000;

export class FleetWorker {
  private constructor(
    readonly environmentId: string,
    private readonly worker: WorkerProcess,
  ) {}

  /** Forks a worker and resolves once it reports ready. */
  static async start(config: WorkerConfig): Promise<FleetWorker> {
    const worker = await WorkerProcess.start(
      config.environmentId,
      WORKER_SCRIPT,
      [JSON.stringify(config)],
      workerEnvironment(config.region),
      { nodeFlags: ['--import', 'tsx'], cwd: REPO_ROOT, readyTimeoutMs: WORKER_READY_TIMEOUT_MS },
    );
    return new FleetWorker(config.environmentId, worker);
  }

  /** Whatever the worker printed; it should print nothing. */
  get output(): string[] {
    return this.worker.output;
  }

  get alive(): boolean {
    return this.worker.alive;
  }

  /** Sends one command; rejects if no reply comes within `timeoutMs` or the worker exits. */
  request<C extends WorkerCommand>(
    command: C,
    timeoutMs: number,
  ): Promise<WorkerReplies[C['type']]> {
    return this.worker.request(command as unknown as { type: string }, timeoutMs);
  }

  /** SIGKILL, as when Lambda freezes an environment for good or it crashes. */
  kill(): void {
    this.worker.kill();
  }

  /** Kills the worker and resolves once it is gone. */
  stop(): Promise<void> {
    return this.worker.stop();
  }
}
