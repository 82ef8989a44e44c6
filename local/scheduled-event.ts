/**
 * An EventBridge "Scheduled Event" exactly as the nightly rule delivers it to
 * the stock sync, for local runs and tests.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { SERVICE_NAME } from './tables.js';

const LOCAL_ACCOUNT_ID = '123456789012';

export function scheduledEvent(
  options: { stage?: string; region?: string; time?: Date } = {},
): ScheduledEvent {
  const region = options.region ?? 'eu-west-1';
  const rule = `${SERVICE_NAME}-${options.stage ?? 'local'}-nightly-stock-sync`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    // EventBridge sends whole seconds.
    time: (options.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:rule/${rule}`],
    detail: {},
  };
}
