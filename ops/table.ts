/**
 * Plain-text output of the operations CLI: aligned tables, label/value
 * blocks and human durations. Pure functions, so the exact layout is tested.
 */

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  /** Numbers read best aligned right; default left. */
  align?: 'left' | 'right';
}

/** Columns separated by two spaces, a header line first; no trailing spaces. */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...cells.map((line) => line[index]!.length)),
  );
  const render = (line: readonly string[]) =>
    line
      .map((cell, index) =>
        columns[index]!.align === 'right'
          ? cell.padStart(widths[index]!)
          : cell.padEnd(widths[index]!),
      )
      .join('  ')
      .trimEnd();
  return [columns.map((column) => column.header), ...cells].map(render).join('\n') + '\n';
}

/** A title line, then one indented `label   value` line per field. */
export function formatFields(title: string, fields: readonly [string, string][]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  const lines = fields.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`.trimEnd());
  return [title, ...lines].join('\n') + '\n';
}

/**
 * A duration for people: `45s`, `39m 12s`, `2h 05m`, `3d 04h`. Negative
 * durations read as `-45s`; anything under a second as `0s`.
 */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const totalSecs = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(totalSecs / 86_400);
  const hours = Math.floor((totalSecs % 86_400) / 3600);
  const minutes = Math.floor((totalSecs % 3600) / 60);
  const secs = totalSecs % 60;
  if (days > 0) return `${sign}${days}d ${pad(hours)}h`;
  if (hours > 0) return `${sign}${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${sign}${minutes}m ${pad(secs)}s`;
  return `${sign}${secs}s`;
}

/** Elapsed time of a run: `4.5 s`, `12 min 3 s`. */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** An instant as ISO 8601 to the second, UTC: `2026-12-04T02:00:03Z`. */
export function formatInstant(instant: Date | number | string | undefined): string {
  if (instant === undefined) return '-';
  const date = instant instanceof Date ? instant : new Date(instant);
  if (Number.isNaN(date.getTime())) return '-';
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The first characters of a long identifier, enough to tell two apart. */
export function shortId(id: string | undefined, chars = 12): string {
  if (!id) return '-';
  return id.length > chars ? id.slice(0, chars) : id;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
