// The `input` variable of input rules: the body's summary as a read-only Map whose texts are joined
// (and capped) on first read, at most once per check, and never when no rule reads them.

import { Activation } from '../../policy/activation.js';
import type { RuleRequest } from '../../policy/rule-request.js';
import type { BodySummary } from './summary.js';

/** The fields of `input`, as cel.ts declares them for the load-time type check. */
export const INPUT_FIELDS = ['message_count', 'total_chars', 'roles', 'tool_count', 'tool_names', 'user_text', 'system_text', 'all_text', 'text_truncated'] as const;
type Field = (typeof INPUT_FIELDS)[number];

const FIELDS: ReadonlySet<string> = new Set(INPUT_FIELDS);
const SYSTEM_ROLES: ReadonlySet<string> = new Set(['system', 'developer']);

/**
 * @bufbuild/cel reads a Map variable's fields with `get` (see policy/record-map.ts), so a Map
 * subclass can compute a field on demand. Nothing is ever written to it.
 */
export class InputView extends Map<string, unknown> {
  readonly #summary: BodySummary;
  readonly #maxScan: number;
  readonly #cache = new Map<Field, unknown>();

  constructor(summary: BodySummary, maxScanChars: number) {
    super();
    this.#summary = summary;
    this.#maxScan = maxScanChars;
  }

  override get(key: string): unknown {
    if (!FIELDS.has(key)) return undefined;
    const field = key as Field;
    if (this.#cache.has(field)) return this.#cache.get(field);
    const value = this.#compute(field);
    this.#cache.set(field, value);
    return value;
  }

  override has(key: string): boolean {
    return FIELDS.has(key);
  }

  override get size(): number {
    return FIELDS.size;
  }

  override *keys(): MapIterator<string> {
    yield* INPUT_FIELDS;
  }

  override *entries(): MapIterator<[string, unknown]> {
    for (const key of INPUT_FIELDS) yield [key, this.get(key)];
  }

  override *values(): MapIterator<unknown> {
    for (const key of INPUT_FIELDS) yield this.get(key);
  }

  override forEach(callback: (value: unknown, key: string, map: Map<string, unknown>) => void, thisArg?: unknown): void {
    for (const key of INPUT_FIELDS) callback.call(thisArg, this.get(key), key, this);
  }

  #compute(field: Field): unknown {
    const s = this.#summary;
    switch (field) {
      case 'message_count':
        return BigInt(s.messageCount);
      case 'total_chars':
        return BigInt(s.totalChars);
      case 'roles':
        return s.roles;
      case 'tool_count':
        return BigInt(s.toolNames.length);
      case 'tool_names':
        return s.toolNames;
      case 'user_text':
        return this.#join((role) => role === 'user');
      case 'system_text':
        return this.#join((role) => SYSTEM_ROLES.has(role));
      case 'all_text':
        return this.#join(() => true);
      case 'text_truncated':
        // Whether all_text (joined by newlines) is past the cap: then some text no regex sees.
        return s.totalChars + Math.max(0, s.texts.length - 1) > this.#maxScan;
    }
  }

  /** The chosen texts joined by newlines, cut at max_scan_chars: the cost bound of every regex. */
  #join(keep: (role: string) => boolean): string {
    let out = '';
    for (const { role, text } of this.#summary.texts) {
      if (!keep(role)) continue;
      const piece = out.length === 0 ? text : `\n${text}`;
      if (out.length + piece.length > this.#maxScan) return out + piece.slice(0, this.#maxScan - out.length);
      out += piece;
    }
    return out;
  }
}

/** The policy's activation (subject, request, model, action, context, body) plus `input`. */
export class InputActivation extends Activation {
  readonly #view: InputView;

  constructor(req: RuleRequest, view: InputView) {
    super(req);
    this.#view = view;
    this.readBody();
  }

  get input(): InputView {
    return this.#view;
  }
}
