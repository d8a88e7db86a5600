/**
 * @module
 * Structured logs: one JSON object per line on stdout, filtered by `LOG_LEVEL`.
 * Events are named (`listening`, `config_changed`, `upstream_down`), never sentences
 * to grep, so a log pipeline or a test can select them.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/**
 * @param service - written into every line as `service`
 * @param [level="info"] - lines below this level are dropped before any formatting work
 * @param [write] - where lines go; tests pass a collector
 * @param [base={}] - fields written into every line after `service` (a worker thread's `worker`)
 */
export function createLogger(
  service: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stdout.write(line),
  base: LogFields = {},
): Logger {
  const threshold = SEVERITY[level];
  const log = (lineLevel: Exclude<LogLevel, 'silent'>) => (event: string, fields?: LogFields) => {
    if (SEVERITY[lineLevel] < threshold) return;
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level: lineLevel, service, ...base, event, ...fields }, errorReplacer)}\n`,
    );
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Errors serialise as their message and code instead of `{}`. */
function errorReplacer(_key: string, value: unknown) {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return code ? { message: value.message, code } : { message: value.message };
  }
  return value;
}
