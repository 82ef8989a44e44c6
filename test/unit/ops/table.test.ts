import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatElapsed,
  formatFields,
  formatInstant,
  formatTable,
  shortId,
} from '../../../ops/table.js';

describe('formatTable', () => {
  it('aligns columns two spaces apart, numbers right, with no trailing spaces', () => {
    const rows = [
      { name: 'farfetch', count: 12, note: '' },
      { name: 'x', count: 3, note: 'held' },
    ];

    const text = formatTable(
      [
        { header: 'NAME', value: (row) => row.name },
        { header: 'N', value: (row) => String(row.count), align: 'right' },
        { header: 'NOTE', value: (row) => row.note },
      ],
      rows,
    );

    expect(text).toBe(['NAME       N  NOTE', 'farfetch  12', 'x          3  held', ''].join('\n'));
  });

  it('prints only the header for no rows', () => {
    expect(formatTable([{ header: 'NAME', value: () => '' }], [])).toBe('NAME\n');
  });
});

describe('formatFields', () => {
  it('indents labels under the title and aligns the values', () => {
    expect(
      formatFields('Profile farfetch', [
        ['client id', 'ff_amazing_client'],
        ['auth method', 'client_secret_post'],
      ]),
    ).toBe(
      [
        'Profile farfetch',
        '  client id    ff_amazing_client',
        '  auth method  client_secret_post',
        '',
      ].join('\n'),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [45_000, '45s'],
    [2_352_000, '39m 12s'],
    [7_500_000, '2h 05m'],
    [273_600_000, '3d 04h'],
    [-45_000, '-45s'],
  ])('shows %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatElapsed', () => {
  it('shows tenths of seconds under a minute, then minutes and seconds', () => {
    expect(formatElapsed(4_530)).toBe('4.5 s');
    expect(formatElapsed(723_000)).toBe('12 min 3 s');
  });
});

describe('formatInstant', () => {
  it('shows UTC to the second, and a dash for nothing', () => {
    expect(formatInstant('2026-12-04T02:00:03.456Z')).toBe('2026-12-04T02:00:03Z');
    expect(formatInstant(new Date(0))).toBe('1970-01-01T00:00:00Z');
    expect(formatInstant(undefined)).toBe('-');
    expect(formatInstant('not a date')).toBe('-');
  });
});

describe('shortId', () => {
  it('keeps the first characters of a long id', () => {
    expect(shortId('0123456789abcdef')).toBe('0123456789ab');
    expect(shortId('0123456789abcdef', 8)).toBe('01234567');
    expect(shortId(undefined)).toBe('-');
  });
});
