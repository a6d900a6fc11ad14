// The streamed fields of OpenAI chunk events (chat.completion.chunk, text_completion), masked across
// events: a model may send "john" "@exa" "mple.com" as three deltas, so each choice's text fields are
// one MaskedTextStream whose held tail moves into a later event, the choice's finishing event, or a
// chunk made up here just before `[DONE]` or the end of the stream.

import { dropLogprobs, maskValue } from './json-body.js';
import type { Counts, Matcher } from './matcher.js';
import { MaskedTextStream } from './text-stream.js';

/** Delta fields that carry generated text piece by piece. */
const DELTA_FIELDS = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Where a stream's text goes in a choice: a delta field, a tool call's arguments, or `text` (completions). */
type Field = { readonly delta: string } | { readonly tool: number } | { readonly text: true };

interface Open {
  readonly choice: number;
  readonly field: Field;
  readonly stream: MaskedTextStream;
}

interface Slot {
  readonly owner: Json;
  readonly key: string;
  readonly value: string;
  readonly open: Open;
}

const keyOf = (choice: number, field: Field): string =>
  'delta' in field ? `${choice}:d:${field.delta}` : 'tool' in field ? `${choice}:t:${field.tool}` : `${choice}:text`;

const total = (counts: Counts): number => Object.values(counts).reduce((a, b) => a + b, 0);

export class ChoiceStreams {
  private readonly open = new Map<string, Open>();
  /** id, object, created, model of the last chunk: the frame of a chunk made up to flush held text. */
  private frame: Json = { object: 'chat.completion.chunk' };

  constructor(
    private readonly matcher: Matcher,
    private readonly counts: Counts,
  ) {}

  /**
   * Masks one parsed `data:` value (in place where it can); returns the value to send, or undefined
   * when it is unchanged. `final` flushes every stream it touches (the stream ended inside it).
   */
  maskEvent(event: unknown, final: boolean): unknown {
    const before = total(this.counts);
    if (!isObject(event) || !Array.isArray(event.choices)) {
      const masked = maskValue(event, this.matcher, this.counts);
      return total(this.counts) === before ? undefined : masked;
    }
    this.remember(event);
    const slots: Slot[] = [];
    const finished: number[] = [];
    event.choices.forEach((choice: unknown, position) => {
      if (!isObject(choice)) return;
      const index = typeof choice.index === 'number' ? choice.index : position;
      slots.push(...this.slots(choice, index));
      if (typeof choice.finish_reason === 'string') finished.push(index);
    });
    // Streamed values are set aside so the walk below masks only the rest of the event, whole.
    for (const slot of slots) slot.owner[slot.key] = null;
    dropLogprobs(event, this.counts);
    maskValue(event, this.matcher, this.counts);
    let changed = total(this.counts) !== before;
    for (const slot of slots) {
      const out = slot.open.stream.push(slot.value, final || finished.includes(slot.open.choice));
      slot.owner[slot.key] = out;
      if (out !== slot.value) changed = true;
    }
    for (const index of final ? [...new Set([...this.open.values()].map((o) => o.choice))] : finished) {
      const choice = (event.choices as unknown[]).find((c, i) => isObject(c) && (c.index ?? i) === index);
      if (isObject(choice) && this.closeChoice(index, choice)) changed = true;
    }
    return changed ? event : undefined;
  }

  /** A chunk event carrying every tail still held (before `[DONE]`, at the end of the stream), or ''. */
  flushAll(): string {
    const choices = new Map<number, Json>();
    for (const open of this.open.values()) {
      const text = open.stream.push('', true);
      if (text === '') continue;
      const choice = choices.get(open.choice) ?? { index: open.choice, delta: {}, finish_reason: null };
      choices.set(open.choice, choice);
      place(choice, open.field, text);
    }
    this.open.clear();
    if (choices.size === 0) return '';
    return `data: ${JSON.stringify({ ...this.frame, choices: [...choices.values()] })}\n\n`;
  }

  private remember(event: Json): void {
    const frame: Json = {};
    for (const key of ['id', 'object', 'created', 'model', 'system_fingerprint']) if (key in event) frame[key] = event[key];
    if (typeof frame.object === 'string') this.frame = frame;
  }

  private slots(choice: Json, index: number): Slot[] {
    const found: Slot[] = [];
    const add = (owner: Json, key: string, field: Field) => {
      const value = owner[key];
      if (typeof value === 'string') found.push({ owner, key, value, open: this.stream(index, field) });
    };
    add(choice, 'text', { text: true });
    const delta = choice.delta;
    if (!isObject(delta)) return found;
    for (const key of DELTA_FIELDS) add(delta, key, { delta: key });
    if (Array.isArray(delta.tool_calls)) {
      delta.tool_calls.forEach((call: unknown, position) => {
        if (isObject(call) && isObject(call.function)) add(call.function, 'arguments', { tool: typeof call.index === 'number' ? call.index : position });
      });
    }
    return found;
  }

  private stream(choice: number, field: Field): Open {
    const key = keyOf(choice, field);
    let open = this.open.get(key);
    if (!open) {
      open = { choice, field, stream: new MaskedTextStream(this.matcher, this.counts) };
      this.open.set(key, open);
    }
    return open;
  }

  /** The choice finished: what its other streams still hold goes into this event; true if any did. */
  private closeChoice(index: number, choice: Json): boolean {
    let placed = false;
    for (const [key, open] of this.open) {
      if (open.choice !== index) continue;
      const text = open.stream.push('', true);
      if (text !== '') {
        place(choice, open.field, text);
        placed = true;
      }
      this.open.delete(key);
    }
    return placed;
  }
}

/** Appends `text` where `field` lives in `choice`, creating the delta or tool call if needed. */
function place(choice: Json, field: Field, text: string): void {
  if ('text' in field) {
    choice.text = (typeof choice.text === 'string' ? choice.text : '') + text;
    return;
  }
  if (!isObject(choice.delta)) choice.delta = {};
  const delta = choice.delta as Json;
  if ('delta' in field) {
    delta[field.delta] = (typeof delta[field.delta] === 'string' ? delta[field.delta] : '') + text;
    return;
  }
  if (!Array.isArray(delta.tool_calls)) delta.tool_calls = [];
  (delta.tool_calls as unknown[]).push({ index: field.tool, function: { arguments: text } });
}
