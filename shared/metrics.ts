/**
 * The product's metrics (the broker's, its callers' and the stock sync's), published as CloudWatch Embedded Metric Format through
 * Powertools Metrics. Core modules see only the small `BrokerMetrics`
 * interface, so tests can count what was recorded.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export type CountMetric =
  | 'CallerMemoryHit'
  | 'BrokerMemoryHit'
  | 'SharedCacheHit'
  | 'TokenRequest'
  | 'TokenRequestFailed'
  | 'LeaseWait'
  | 'RefreshAhead'
  | 'CacheFallback'
  | 'Refusal'
  | 'CooldownServed'
  | 'ItemsWritten'
  | 'ItemsRejected'
  | 'SyncRunFailed';

export type DurationMetric = 'LeaseWaitDuration' | 'TokenRequestDuration' | 'SyncDuration';

export interface BrokerMetrics {
  count(name: CountMetric, value?: number): void;
  duration(name: DurationMetric, ms: number): void;
}

/** Discards everything; the default for modules used outside Lambda. */
export const noMetrics: BrokerMetrics = { count: () => undefined, duration: () => undefined };

/** Powertools-backed metrics; `POWERTOOLS_METRICS_NAMESPACE` names the namespace. */
export function powertoolsMetrics(serviceName: string): BrokerMetrics & { publish(): void } {
  const metrics = new Metrics({ serviceName });
  return {
    count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
    duration: (name, ms) => metrics.addMetric(name, MetricUnit.Milliseconds, ms),
    publish: () => metrics.publishStoredMetrics(),
  };
}
