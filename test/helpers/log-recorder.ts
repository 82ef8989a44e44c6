import type { Log } from '../../shared/logger.js';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: unknown[];
}

/** A logger that keeps every call, so tests can assert on levels and leaks. */
export class LogRecorder implements Log {
  readonly entries: LogEntry[] = [];

  debug = (message: unknown, ...fields: unknown[]) => this.record('debug', message, fields);
  info = (message: unknown, ...fields: unknown[]) => this.record('info', message, fields);
  warn = (message: unknown, ...fields: unknown[]) => this.record('warn', message, fields);
  error = (message: unknown, ...fields: unknown[]) => this.record('error', message, fields);

  /** Everything logged, as one string, for searching for secrets. */
  text(): string {
    return JSON.stringify(this.entries, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : value,
    );
  }

  messages(level?: LogEntry['level']): string[] {
    return this.entries.filter((e) => !level || e.level === level).map((e) => e.message);
  }

  private record(level: LogEntry['level'], message: unknown, fields: unknown[]): void {
    this.entries.push({ level, message: String(message), fields });
  }
}
