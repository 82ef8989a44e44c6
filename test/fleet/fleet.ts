/**
 * A fleet of broker workers started together, each a separate environment
 * named `env-<n>`, all sharing one table, one Secrets Manager and one token
 * server. Stopping it collects each live worker's report first, so a test
 * can search everything the fleet logged or printed.
 */
import { startWorkers } from '../../local/ipc-worker.js';
import { FleetWorker } from './fleet-worker.js';
import type {
  WorkerCommand,
  WorkerConfig,
  WorkerReplies,
  WorkerReport,
} from './worker-protocol.js';

/** How long a worker may take to hand over its report when the fleet stops. */
const REPORT_TIMEOUT_MS = 5_000;

export type FleetConfig = Omit<WorkerConfig, 'environmentId'>;

/** What a stopped fleet left behind: reports of the workers still alive, and all output. */
export interface FleetTranscript {
  reports: WorkerReport[];
  output: string[];
}

export class Fleet {
  private constructor(readonly workers: FleetWorker[]) {}

  /**
   * Starts one worker per config at once, named `<namePrefix>-1`, `-2`, ...;
   * if any fails to start, stops the others.
   */
  static async start(configs: FleetConfig[], namePrefix = 'env'): Promise<Fleet> {
    const workers = await startWorkers(configs.length, (index) =>
      FleetWorker.start({ ...configs[index]!, environmentId: `${namePrefix}-${index + 1}` }),
    );
    return new Fleet(workers);
  }

  /** The worker whose environment id opens a lease id (`<environmentId>:<uuid>`). */
  holderOf(leaseId: string): FleetWorker | undefined {
    return this.workers.find((worker) => leaseId.startsWith(`${worker.environmentId}:`));
  }

  /** Sends the same command to every worker at once. */
  all<C extends WorkerCommand>(command: C, timeoutMs: number): Promise<WorkerReplies[C['type']][]> {
    return Promise.all(this.workers.map((worker) => worker.request(command, timeoutMs)));
  }

  /** Collects reports from the live workers, then kills every worker. */
  async stop(): Promise<FleetTranscript> {
    const reports = await Promise.all(
      this.workers
        .filter((worker) => worker.alive)
        .map((worker) =>
          worker.request({ type: 'report' }, REPORT_TIMEOUT_MS).catch(() => undefined),
        ),
    );
    await Promise.all(this.workers.map((worker) => worker.stop()));
    return {
      reports: reports.filter((report): report is WorkerReport => report !== undefined),
      output: this.workers.flatMap((worker) => worker.output),
    };
  }
}
