// Reassembles server-sent events from decoded text that arrives in arbitrary pieces: transport
// chunks follow neither line nor event boundaries (a `\r\n` may even be split between two chunks).

const LINE_END = /\r\n|\r|\n/g;

export type EventHandler = (lines: readonly string[], complete: boolean) => void;

export class SseEvents {
  private buffer = '';
  private lines: string[] = [];
  private lineChars = 0;

  /** Characters of the event still being assembled: what the caller bounds. */
  get pendingChars(): number {
    return this.lineChars + this.buffer.length;
  }

  /**
   * Feeds text; calls `onEvent` with each complete event's lines (terminators removed, the blank
   * line ending it excluded). With `end`, a last unterminated event comes with `complete` false.
   */
  feed(text: string, end: boolean, onEvent: EventHandler): void {
    // What is left from the last feed holds no line end but perhaps a trailing `\r`: scan from there.
    LINE_END.lastIndex = Math.max(0, this.buffer.length - 1);
    this.buffer += text;
    let at = 0;
    for (let m = LINE_END.exec(this.buffer); m !== null; m = LINE_END.exec(this.buffer)) {
      // A lone `\r` at the very end may be the first half of `\r\n`: wait for the next chunk.
      if (m[0] === '\r' && m.index === this.buffer.length - 1 && !end) break;
      this.line(this.buffer.slice(at, m.index), onEvent);
      at = LINE_END.lastIndex;
    }
    this.buffer = this.buffer.slice(at);
    if (!end) return;
    if (this.buffer !== '') this.line(this.buffer, onEvent);
    this.buffer = '';
    if (this.lines.length > 0) onEvent(this.take(), false);
  }

  private line(line: string, onEvent: EventHandler): void {
    if (line !== '') {
      this.lines.push(line);
      this.lineChars += line.length + 1;
    } else if (this.lines.length > 0) onEvent(this.take(), true);
  }

  private take(): string[] {
    const lines = this.lines;
    this.lines = [];
    this.lineChars = 0;
    return lines;
  }
}
