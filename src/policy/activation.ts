// The variables a `when` condition reads, each built on its first read within one check, so a
// condition that reads only `subject` never pays for `request` and none pays for `body` unless
// it reads it.

import type { RuleRequest } from './rule-request.js';
import type { Identity } from '../identity/identity.js';
import { splitSubject, type SplitSubject } from '../identity/subject.js';
import { RecordMap } from './record-map.js';

/** Identities are reused across checks (key table, token cache, SAN cache): split each once. */
const splits = new WeakMap<Identity, SplitSubject>();

/**
 * @bufbuild/cel reads a variable as `activation[name]` and wraps a `Map` as it is, but copies a
 * plain object's entries into a new Map on every read: hence Maps, and a header view instead of
 * a copy. Only the names in CEL_DECLARATIONS reach here (cel-check.ts refuses any other identifier),
 * and the input is private (`#`), so no expression can read anything else.
 */
export class Activation {
  readonly #req: RuleRequest;
  #subject: Map<string, unknown> | undefined;
  #request: Map<string, unknown> | undefined;
  #body: unknown;
  #bodyRead = false;

  constructor(req: RuleRequest) {
    this.#req = req;
  }

  get subject(): Map<string, unknown> {
    const identity = this.#req.identity;
    if (this.#subject) return this.#subject;
    // `id` is the qualified subject (`jwt:corp:alice`); `source` and `raw_id` are its two halves.
    let split = splits.get(identity);
    if (split === undefined) splits.set(identity, (split = splitSubject(identity.subject)));
    const { source, id } = split;
    return (this.#subject = new Map<string, unknown>([
      ['id', identity.subject],
      ['source', source],
      ['raw_id', id],
      ['roles', identity.roles],
      ['scopes', identity.scopes ?? []],
      ['attributes', identity.attributes],
      ['method', identity.method],
    ]));
  }

  get request(): Map<string, unknown> {
    const { input, target } = this.#req;
    return (this.#request ??= new Map<string, unknown>([
      ['method', input.method],
      ['path', target.path],
      ['host', input.host],
      ['headers', new RecordMap(input.headers)],
    ]));
  }

  get model(): string {
    return this.#req.target.model;
  }

  get action(): string {
    return this.#req.target.action;
  }

  get context(): Readonly<Record<string, string>> {
    return this.#req.input.contextExtensions;
  }

  /** Undefined (unbound for CEL) until a rule that reads the body asked for it via `readBody`. */
  get body(): unknown {
    return this.#body;
  }

  /** Parses the body (at most once per check); undefined when there is no complete JSON body. */
  readBody(): unknown {
    if (!this.#bodyRead) {
      this.#body = this.#req.body();
      this.#bodyRead = true;
    }
    return this.#body;
  }
}
