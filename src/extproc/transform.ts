// The body transformer port: a plugin (response masking) rewrites response bytes on their way downstream.

export interface ExchangeView {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly model: string;
  /** Response content-type, lower case. */
  readonly contentType: string;
  /** Response content-encoding, lower case; `identity` when the response has none. */
  readonly contentEncoding: string;
}

export interface BodyTransformer {
  /**
   * Returns the bytes to send downstream for this chunk (may hold back a tail to catch a split
   * pattern; must flush everything when `end` is true).
   */
  push(chunk: Buffer, end: boolean): Buffer;
  /** Counts of what was changed, for metrics/audit: e.g. { email: 2, card: 1 }. */
  readonly counts: Readonly<Record<string, number>>;
}

/** Chooses a transformer for one exchange; undefined = pass the body through untouched. */
export interface TransformerFactory {
  (view: ExchangeView): BodyTransformer | undefined;
}

/** The default: no exchange is transformed. */
export const passThrough: TransformerFactory = () => undefined;
