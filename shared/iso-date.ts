/**
 * ISO 8601 date-times as the stocks API and EventBridge send them. `Date.parse`
 * alone accepts far more (`"12"` is December 2001) and rolls 30 February over
 * into March, so the shape and the calendar are checked first.
 */

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** What is wrong with `value` as a date-time: its shape, its calendar day, or nothing. */
export function isoDateTimeProblem(value: unknown): 'shape' | 'calendar' | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return 'shape';
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  const realDay = date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return realDay && !Number.isNaN(Date.parse(value)) ? undefined : 'calendar';
}
