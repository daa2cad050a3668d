// An operation's log: text lines, bounded in size, readable by character range [start, end) while still being written.
// Not persistence (engine/operation-store.ts writes a finished log to disk) and not a general logger.
//
// Bounding keeps the HEAD: once the text reaches the cap, later lines are dropped and one marker line says so; when
// the log is closed a last line counts what was dropped. The text is append-only, so a character offset a reader got
// earlier (the size, to poll from) stays valid; dropping the oldest lines instead would shift every offset.
// Characters are UTF-16 code units (JavaScript string indexes), as the front-ends' `start`/`end` count them.

/** Default cap of one operation's log, in characters. */
export const DEFAULT_LOG_CAP = 256 * 1024;
/** Longest single line kept; longer ones are cut and end with "…". */
export const MAX_LINE_LENGTH = 4096;
/** Room kept past the cap for the truncation marker and the closing count. */
export const LOG_RESERVE = 256;

export interface LogRange {
  readonly text: string;
  /** The log's total size in characters now (the offset to read on from). */
  readonly size: number;
  /** True when there is text past `end`, or the log is still being written. */
  readonly moreData: boolean;
}

/** Pure: one raw line (or several, split on newlines) made safe: no control characters but tab, each bounded. */
export function cleanLines(text: string): string[] {
  return String(text)
    .split(/\r\n|\r|\n/)
    .map((l) => l.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?'))
    .map((l) => (l.length > MAX_LINE_LENGTH ? `${l.slice(0, MAX_LINE_LENGTH - 1)}…` : l));
}

/** Pure: the [start, end) range of `text` (end absent: to the end; both clamped to the text). */
export function sliceRange(text: string, closed: boolean, start = 0, end?: number): LogRange {
  const size = text.length;
  const s = Math.min(Math.max(0, start), size);
  const e = end === undefined ? size : Math.min(Math.max(s, end), size);
  return { text: text.slice(s, e), size, moreData: e < size || !closed };
}

/** Checks a requested range: non-negative integers, end not before start. Returns the reason it is wrong, or undefined. */
export function rangeProblem(start: unknown, end: unknown): string | undefined {
  const isIndex = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (start !== undefined && !isIndex(start)) return 'logStart must be a non-negative integer';
  if (end !== undefined && !isIndex(end)) return 'logEnd must be a non-negative integer';
  if (start !== undefined && end !== undefined && (end as number) < (start as number)) return 'logEnd must not be less than logStart';
  return undefined;
}

export class OperationLog {
  private text = '';
  private droppedLines = 0;
  private droppedChars = 0;
  private closedFlag = false;
  private storedFlag = false;

  constructor(readonly cap = DEFAULT_LOG_CAP) {}

  /** A closed log whose text lives on disk only (engine/operation-store.ts reads it from there). */
  static stored(cap = DEFAULT_LOG_CAP): OperationLog {
    const log = new OperationLog(cap);
    log.closedFlag = true;
    log.storedFlag = true;
    return log;
  }

  /** The text was written to disk and dropped from memory; read() no longer has it. */
  get stored(): boolean {
    return this.storedFlag;
  }

  /** Drops the text from memory once it is on disk (only a closed log). */
  release(): void {
    if (!this.closedFlag) return;
    this.text = '';
    this.storedFlag = true;
  }

  get size(): number {
    return this.text.length;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get truncated(): boolean {
    return this.droppedLines > 0;
  }

  /** Appends lines (each ends with "\n"); returns the lines actually kept (for events). Ignored once closed. */
  append(raw: string): string[] {
    if (this.closedFlag) return [];
    const kept: string[] = [];
    for (const line of cleanLines(raw)) {
      if (this.droppedLines > 0 || this.text.length + line.length + 1 > this.cap) {
        if (this.droppedLines === 0) this.text += `[log truncated at ${this.cap} characters; later lines are dropped]\n`;
        this.droppedLines++;
        this.droppedChars += line.length + 1;
        continue;
      }
      this.text += `${line}\n`;
      kept.push(line);
    }
    return kept;
  }

  /** Ends the log: no more lines; a last line counts what was dropped, if anything was. */
  close(): void {
    if (this.closedFlag) return;
    if (this.droppedLines > 0) this.text += `[${this.droppedLines} lines (${this.droppedChars} characters) dropped]\n`;
    this.closedFlag = true;
  }

  read(start?: number, end?: number): LogRange {
    return sliceRange(this.text, this.closedFlag, start, end);
  }

  /** The whole text (for persisting). */
  all(): string {
    return this.text;
  }
}
