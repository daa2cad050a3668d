// The one log format of the daemons (ls-hubd, appinstalld, `npm start`): `<ISO time> <level> <prog>: <text>` on stderr,
// one line per call, every control character escaped so text from a request or a package can never forge a line.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Pure: a log line with every control character (newline, CR, ESC, ..., and the Unicode line separators) written as
 *  a visible escape, so that text from a request (an id, a path, an error message quoting package bytes) can never
 *  start a line of its own or drive the terminal: one call, one line. */
export function escapeLogText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** The level of a line logged without one (the `(line) => void` log functions handed to the hub and the services). */
export function levelOf(text: string): LogLevel {
  if (/^WARNING\b/.test(text)) return 'warn';
  if (/^(ERROR\b|cannot start\b|stop failed\b|lost the hub connection\b)/.test(text)) return 'error';
  return 'info';
}

/** Pure: one formatted line, newline included. */
export function formatLogLine(prog: string, level: LogLevel, text: string, now: Date = new Date()): string {
  return `${now.toISOString()} ${level} ${prog}: ${escapeLogText(text)}\n`;
}

/** A log function (level from the text, see levelOf) with explicit-level variants. */
export interface Logger {
  (text: string): void;
  debug(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

export function createLogger(prog: string, write: (line: string) => void = (line) => void process.stderr.write(line)): Logger {
  const at = (level: LogLevel) => (text: string) => write(formatLogLine(prog, level, text));
  return Object.assign((text: string) => write(formatLogLine(prog, levelOf(text), text)), {
    debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
  });
}
