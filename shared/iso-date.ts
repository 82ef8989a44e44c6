/**
 * ISO 8601 date-times as the stocks API and EventBridge send them. `Date.parse`
 * alone accepts far more (`"12"` is December 2001) and rolls 30 February over
 * into March, so the shape and the calendar are checked first. This runs once
 * per stock entry, so the calendar day is read from the digits in place
 * rather than through substrings and a `Date`.
 */

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** What is wrong with `value` as a date-time: its shape, its calendar day, or nothing. */
export function isoDateTimeProblem(value: unknown): 'shape' | 'calendar' | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return 'shape';
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  const realDay = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
  return realDay && !Number.isNaN(Date.parse(value)) ? undefined : 'calendar';
}

/** The number written by the `count` ASCII digits of `text` from `start`. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** Days in `month` (1–12) of `year` in the proleptic Gregorian calendar, as ISO 8601 counts. */
function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}
