import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoDateTimeProblem } from '../../shared/iso-date.js';

describe('isoDateTimeProblem', () => {
  it.each([
    '2026-03-01T02:15:00Z',
    '2026-03-01T02:15Z',
    '2026-03-01T02:15:00.123456789+01:00',
    '2026-03-01T02:15:00-0530',
    '2024-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '2026-12-31T23:59:59Z',
  ])('finds nothing wrong with %s', (value) => {
    // Act
    const problem = isoDateTimeProblem(value);

    // Assess
    expect(problem).toBeUndefined();
  });

  it.each([
    ['a date without a time', '2026-03-01'],
    ['a time without a zone', '2026-03-01T02:15:00'],
    ['another format', 'Sun, 01 Mar 2026 02:15:00 GMT'],
    ['non-ASCII digits', '２０２６-03-01T02:15:00Z'],
    ['a number', 1_772_331_300_000],
  ])('finds the shape wrong in %s', (_label, value) => {
    // Act
    const problem = isoDateTimeProblem(value);

    // Assess
    expect(problem).toBe('shape');
  });

  it.each([
    '2025-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-03-00T00:00:00Z',
    '2026-03-01T25:00:00Z',
  ])('finds the calendar wrong in %s', (value) => {
    // Act
    const problem = isoDateTimeProblem(value);

    // Assess
    expect(problem).toBe('calendar');
  });

  it('agrees with the calendar Date keeps for every day of the years 1583 to 9999', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1583, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        (year, month, day) => {
          const text = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
          const date = new Date(`${text}T00:00:00Z`);
          const real = date.getUTCMonth() === month - 1 && date.getUTCDate() === day;

          expect(isoDateTimeProblem(`${text}T12:00:00Z`)).toBe(real ? undefined : 'calendar');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
