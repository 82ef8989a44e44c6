/**
 * The EventBridge "Scheduled Event" that starts a stock sync. Only the fields
 * the run relies on are checked; each failure names its field.
 */
import type { ScheduledEvent } from 'aws-lambda';
import { ValidationError } from '../errors.js';
import { isoDateTimeProblem } from '../iso-date.js';

export interface ScheduledStart {
  /** Event id, kept for tracing a run back to its trigger. */
  eventId: string;
  /** Scheduled time, ISO 8601. */
  time: string;
}

export function parseScheduledEvent(event: unknown): ScheduledStart {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ValidationError('event', 'must be a JSON object');
  }
  const raw = event as Partial<Record<keyof ScheduledEvent, unknown>>;
  if (raw['detail-type'] !== 'Scheduled Event') {
    throw new ValidationError('detail-type', 'must be "Scheduled Event"');
  }
  if (raw.source !== 'aws.events' && raw.source !== 'aws.scheduler') {
    throw new ValidationError('source', 'must be "aws.events" or "aws.scheduler"');
  }
  if (typeof raw.id !== 'string' || raw.id === '' || raw.id.length > 128) {
    throw new ValidationError('id', 'must be a non-empty string of at most 128 characters');
  }
  if (typeof raw.time !== 'string' || isoDateTimeProblem(raw.time) !== undefined) {
    throw new ValidationError('time', 'must be an ISO 8601 date-time');
  }
  return { eventId: raw.id, time: new Date(raw.time).toISOString() };
}
