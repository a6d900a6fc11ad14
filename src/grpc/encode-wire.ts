// Writes an Answer straight to CheckResponse protobuf bytes, without building it as objects first
// (test/helpers/reference-codec/encode.ts is the readable object form it is tested against).
// proto-loader's fromObject + encode of a typical allow (7 header options, ~13 metadata fields) cost
// more than the whole pipeline; this costs a small fraction of it. Field numbers are Envoy's
// (envoy/service/auth/v3/external_auth.proto).
//
// The message is written back to front into a reused scratch buffer: a nested message's length is
// then known when its prefix is written, so every string is scanned once and written once (sizing
// the message first, front to back, scanned each string three times). The bytes are the same.

import type { Answer, HeaderList } from '../decision/answer.js';

const LEN = 2;
const VARINT = 0;
const I64 = 1;
/**
 * HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD, on every header: without an explicit
 * action newer Envoy appends a second copy, which would let a client-sent x-modelgate-subject survive next to ours.
 */
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

/** Writes backwards from `end`; `pos` is the first written byte. Only used within one synchronous encode. */
class ReverseWriter {
  buf = Buffer.allocUnsafe(16 * 1024);
  pos = this.buf.length;

  reset(): void {
    this.pos = this.buf.length;
  }

  /** Makes room for `n` more bytes in front of what is written, keeping it at the end. */
  room(n: number): void {
    if (this.pos >= n) return;
    const used = this.buf.length - this.pos;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, used + n + 1024));
    this.buf.copy(bigger, bigger.length - used, this.pos);
    this.buf = bigger;
    this.pos = bigger.length - used;
  }

  /**
   * Bytes written so far, copied out of the scratch buffer. A view would save ~0.5 µs, not measurable
   * per call (docs/performance.md, "Check path ceiling"), and is safe only while grpc-js copies the
   * message before the next encode: a server interceptor can hold it, and the next check would overwrite it.
   */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.buf.length - this.pos);
    this.buf.copy(out, 0, this.pos);
    return out;
  }

  tag(field: number, wire: number): void {
    this.room(1);
    this.buf[--this.pos] = (field << 3) | wire;
  }

  varint(n: number): void {
    if (n < 0) return this.negativeVarint(n);
    let size = 1;
    for (let v = n; v >= 0x80; v = Math.floor(v / 128)) size++;
    this.room(size);
    const buf = this.buf;
    let p = (this.pos -= size);
    while (n >= 0x80) {
      buf[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[p] = n;
  }

  /** int32 negatives are sign-extended to 64 bits: ten bytes. */
  private negativeVarint(n: number): void {
    this.room(10);
    let v = BigInt.asUintN(64, BigInt(n));
    let p = (this.pos -= 10);
    for (let i = 0; i < 9; i++) {
      this.buf[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[p] = Number(v);
  }

  /** Bytes written so far: a mark that survives the buffer growing (positions do not). */
  written(): number {
    return this.buf.length - this.pos;
  }

  /** Closes a length-delimited field whose content is everything written since `mark`. */
  close(field: number, mark: number): void {
    this.varint(this.written() - mark);
    this.tag(field, LEN);
  }

  string(field: number, s: string): void {
    const n = s.length;
    this.room(3 * n + 16);
    const mark = this.written();
    const end = this.pos;
    const buf = this.buf;
    let p = this.pos;
    let i = n - 1;
    // ASCII, the common case, byte by byte without a call into Buffer.
    for (; i >= 0; i--) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[--p] = c;
    }
    if (i >= 0) {
      const bytes = Buffer.byteLength(s, 'utf8');
      p = end - bytes;
      buf.write(s, p, bytes, 'utf8');
    }
    this.pos = p;
    this.close(field, mark);
  }

  double(field: number, v: number): void {
    this.room(9);
    this.pos -= 8;
    this.buf.writeDoubleLE(v, this.pos);
    this.tag(field, I64);
  }
}

const w = new ReverseWriter();

// ---- HeaderValueOption { header: HeaderValue { key = 1, value = 2 } = 1, append_action = 3 }

function writeHeaders(field: number, headers: HeaderList): void {
  for (let i = headers.length - 1; i >= 0; i--) {
    const [key, value] = headers[i]!;
    const option = w.written();
    w.varint(OVERWRITE_IF_EXISTS_OR_ADD);
    w.tag(3, VARINT);
    const header = w.written();
    w.string(2, value);
    w.string(1, key);
    w.close(1, header);
    w.close(field, option);
  }
}

// ---- google.protobuf.Struct { map<string, Value> fields = 1 }; Value oneof { null 1, number 2, string 3, bool 4, struct 5, list 6 }

type Json = unknown;

function writeValue(v: Json): void {
  switch (typeof v) {
    case 'string':
      return w.string(3, v);
    case 'number':
      return w.double(2, v);
    case 'boolean':
      w.varint(v ? 1 : 0);
      return w.tag(4, VARINT);
    case 'object': {
      if (v === null) {
        w.varint(0);
        return w.tag(1, VARINT);
      }
      const end = w.written();
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) {
          const item = w.written();
          writeValue(v[i]);
          w.close(1, item);
        }
        return w.close(6, end);
      }
      writeStruct(v as Record<string, Json>);
      return w.close(5, end);
    }
    default:
      return w.string(3, String(v));
  }
}

/** The struct's entries, last key first, so they read in the object's key order. */
function writeStruct(obj: Readonly<Record<string, Json>>): void {
  const keys = Object.keys(obj);
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i]!;
    const v = obj[key];
    if (v === undefined) continue;
    const entry = w.written();
    const value = w.written();
    writeValue(v);
    w.close(2, value);
    w.string(1, key);
    w.close(1, entry);
  }
}

// ---- CheckResponse { status = 1, denied_response = 2, ok_response = 3, dynamic_metadata = 4 }

/** The CheckResponse for an Answer as protobuf bytes, field for field what the reference encoder builds. */
export function encodeCheckResponseBytes(answer: Answer): Buffer {
  w.reset();
  const meta = w.written();
  writeStruct(answer.metadata);
  w.close(4, meta);
  const http = w.written();
  if (answer.allowed) {
    // OkHttpResponse { headers = 2, headers_to_remove = 5, response_headers_to_add = 6 }
    writeHeaders(6, answer.clientHeaders);
    const remove = answer.headersToRemove;
    for (let i = remove.length - 1; i >= 0; i--) w.string(5, remove[i]!);
    writeHeaders(2, answer.upstreamHeaders);
    w.close(3, http);
  } else {
    // DeniedHttpResponse { status: HttpStatus { code = 1 } = 1, headers = 2, body = 3 }
    w.string(3, answer.body);
    writeHeaders(2, answer.clientHeaders);
    const status = w.written();
    w.varint(answer.httpStatus);
    w.tag(1, VARINT);
    w.close(1, status);
    w.close(2, http);
  }
  // google.rpc.Status { code = 1 }
  const status = w.written();
  w.varint(answer.grpcCode);
  w.tag(1, VARINT);
  w.close(1, status);
  return w.take();
}
