import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/errors.js';
import { parseScheduledEvent } from '../../../shared/stocks/scheduled-event.js';

/** As EventBridge delivers a rule's schedule to its Lambda target. */
function scheduledEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-03-01T02:00:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:events:eu-west-1:123456789012:rule/nightly-stock-sync'],
    detail: {},
    ...overrides,
  };
}

function validationError(event: unknown): ValidationError {
  try {
    parseScheduledEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected parseScheduledEvent to throw');
}

describe('parseScheduledEvent', () => {
  it('accepts an EventBridge Scheduled Event and keeps its id and time', () => {
    // Act
    const start = parseScheduledEvent(scheduledEvent());

    // Assess
    expect(start).toEqual({
      eventId: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
      time: '2026-03-01T02:00:00.000Z',
    });
  });

  it('accepts an EventBridge Scheduler event', () => {
    // Act
    const start = parseScheduledEvent(scheduledEvent({ source: 'aws.scheduler' }));

    // Assess
    expect(start.eventId).toBe('53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa');
  });

  it('normalises a time with an offset to UTC', () => {
    // Act
    const start = parseScheduledEvent(scheduledEvent({ time: '2026-03-01T03:00:00+01:00' }));

    // Assess
    expect(start.time).toBe('2026-03-01T02:00:00.000Z');
  });

  it.each([null, undefined, 'event', 42, [scheduledEvent()]])(
    'refuses the non-object event %j naming event',
    (event) => {
      // Act
      const error = validationError(event);

      // Assess
      expect(error.field).toBe('event');
      expect(error.code).toBe('invalid_request');
      expect(error.message).toBe('event: must be a JSON object');
    },
  );

  it.each([undefined, 'Object Created', 'scheduled event', 42])(
    'refuses detail-type %j naming detail-type',
    (value) => {
      // Act
      const error = validationError(scheduledEvent({ 'detail-type': value }));

      // Assess
      expect(error.field).toBe('detail-type');
      expect(error.message).toBe('detail-type: must be "Scheduled Event"');
    },
  );

  it.each([undefined, 'aws.s3', 'custom.scheduler', ''])(
    'refuses source %j naming source',
    (value) => {
      // Act
      const error = validationError(scheduledEvent({ source: value }));

      // Assess
      expect(error.field).toBe('source');
      expect(error.message).toBe('source: must be "aws.events" or "aws.scheduler"');
    },
  );

  it.each([undefined, '', 42, null, 'x'.repeat(129)])('refuses id %j naming id', (value) => {
    // Act
    const error = validationError(scheduledEvent({ id: value }));

    // Assess
    expect(error.field).toBe('id');
    expect(error.message).toBe('id: must be a non-empty string of at most 128 characters');
  });

  it('accepts an id of exactly 128 characters', () => {
    // Act
    const start = parseScheduledEvent(scheduledEvent({ id: 'x'.repeat(128) }));

    // Assess
    expect(start.eventId).toHaveLength(128);
  });

  it.each([undefined, '', 'tonight', 1_772_330_400_000, null, '2026-13-01T02:00:00Z'])(
    'refuses time %j naming time',
    (value) => {
      // Act
      const error = validationError(scheduledEvent({ time: value }));

      // Assess
      expect(error.field).toBe('time');
      expect(error.message).toBe('time: must be an ISO 8601 date-time');
    },
  );

  // Date.parse reads many non-ISO strings as dates in 2001, so a malformed
  // time would file the run under the wrong night instead of being refused.
  it.each(['12', '1', 'March 7', '2026/03/01 02:00'])(
    'refuses the non-ISO time %j that Date.parse would still read',
    (value) => {
      // Act
      const error = validationError(scheduledEvent({ time: value }));

      // Assess
      expect(error.field).toBe('time');
    },
  );
});
