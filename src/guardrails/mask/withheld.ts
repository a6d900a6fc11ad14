// What the client receives instead of a body masking could not handle (fail closed): an OpenAI-shaped
// error, so SDKs raise it rather than parse a half-masked answer. No response text goes into it.

export type WithheldCode = 'masking_body_too_large' | 'masking_event_too_large' | 'masking_encoded_body';

function errorObject(code: WithheldCode, message: string): string {
  return JSON.stringify({ error: { message: `modelgate withheld this response: ${message}`, type: 'modelgate_masking', code } });
}

/** The whole JSON body. */
export function withheldJson(code: WithheldCode, message: string): Buffer {
  return Buffer.from(errorObject(code, message), 'utf8');
}

/** One SSE event; the stream sends nothing after it. */
export function withheldEvent(code: WithheldCode, message: string): string {
  return `data: ${errorObject(code, message)}\n\n`;
}

/**
 * The whole body replaced by one JSON error (counted `body_withheld`): for a body masking cannot
 * read at all, such as one the model server sent compressed.
 */
export function withheldBody(code: WithheldCode, message: string): { push(chunk: Buffer, end: boolean): Buffer; readonly counts: Readonly<Record<string, number>> } {
  let sent = false;
  return {
    counts: { body_withheld: 1 },
    push(_chunk, end) {
      if (!end || sent) return Buffer.alloc(0);
      sent = true;
      return withheldJson(code, message);
    },
  };
}
