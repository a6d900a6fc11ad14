// Reads a CheckRequest's protobuf bytes straight into the pipeline's CheckInput: the fields modelgate
// uses and nothing else, with no intermediate message objects. It must agree with proto-loader's
// decode followed by the readable reference decoder (test/helpers/reference-codec/decode.ts) on every
// well-formed request; test/unit/grpc/decode-wire.test.ts checks that pair against it. Field numbers are Envoy's (envoy/service/auth/v3/
// attribute_context.proto, envoy/config/core/v3/{address,base}.proto) and google/protobuf/struct.proto.
//
// Policy, where protobuf or proto-loader leave room:
// - Malformed bytes give INVALID_REQUEST, never an exception: a truncated varint, tag or length, a
//   length past its enclosing message, wire type 6/7, an end-group without its start, field number 0,
//   a field of the schema with another wire type than its own (also the fields modelgate passes over:
//   proto-loader would read those by their declared type), Struct/list or group nesting deeper than MAX_DEPTH.
// - Unknown fields are skipped without being parsed, groups (wire types 3/4) included, as protobufjs does.
// - A singular message field seen twice is replaced by the later one, not merged: that is what
//   protobufjs does. Map entries accumulate and a later duplicate key wins.
// - A Value holding several `kind` members (only a hand-made encoder writes that) reads as
//   struct.ts's structToJson reads proto-loader's object: string, then number, bool, struct, list, else null.
// - A map entry without its value reads as the empty value (`{}` for a Struct, null for a Value);
//   proto-loader throws on those.
// - Strings are UTF-8 decoded by Buffer, invalid sequences become U+FFFD, exactly as protobufjs's
//   BufferReader does.
// - `__proto__` is a key like any other: every record here (headers, context extensions, filter
//   metadata, Struct objects) is a plain object, and that key is defined as an own property, as
//   JSON.parse and protobufjs 7 do; no key ever reaches the prototype setter. Plain rather than
//   null-prototype: @bufbuild/cel reads `value.constructor.name` of a plain object it is given
//   (the `context` variable), and V8 builds plain objects faster. Nothing in src/ reads a header by
//   a name Object.prototype also has. The reference decoder does the same (struct.ts's setOwn).
// - Strings that repeat from request to request come from a bounded cache (string-cache.ts), except
//   values longer than 32 bytes and those of credential headers: a secret is never kept there.

import type { CheckInput } from '../check/check-input.js';
import { StringCache, type Utf8Buffer } from './string-cache.js';
import { setOwn } from './struct.js';

/** Header names, map keys, namespaces: few, repeated, and used as property names. */
const keys = new StringCache(64, true);
/**
 * Short values ('POST', hosts, content types). 32 bytes keeps every modelgate API key (49+
 * characters) and any JWT out, and values of the usual credential headers are never looked up
 * here (CREDENTIAL_HEADERS): a secret must not stay in a table shared by all requests.
 */
const values = new StringCache(32, false);
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'x-forwarded-client-cert']);

/** What decodeCheckInput returns for bytes that are not a CheckRequest; the caller denies request_invalid. */
export const INVALID_REQUEST: unique symbol = Symbol('request_invalid');

/**
 * Struct/list nesting, and group nesting in skipped fields. Deep enough for any JWT payload, and below
 * the ~49 Struct levels where protobufjs's recursion limit (100 messages) stops proto-loader, so both
 * decoders accept the same depths.
 */
export const MAX_DEPTH = 32;

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

/**
 * By field number, the wire type of each field a message has but this decoder passes over, so that
 * one arriving with another wire type is refused like a used one (proto-loader would misread it).
 */
type WireTypes = Uint8Array;
const NOT_IN_SCHEMA = 0xff;

function wireTypes(fields: Record<number, number>): WireTypes {
  const table = new Uint8Array(16).fill(NOT_IN_SCHEMA);
  for (const [field, wireType] of Object.entries(fields)) table[Number(field)] = wireType;
  return table;
}

const NONE = wireTypes({});
/** destination, tls_session, route_metadata_context */
const ATTRIBUTES_UNUSED = wireTypes({ 2: LEN, 12: LEN, 13: LEN });
/** service, labels */
const PEER_UNUSED = wireTypes({ 2: LEN, 3: LEN });
/** pipe, envoy_internal_address */
const ADDRESS_UNUSED = wireTypes({ 2: LEN, 3: LEN });
/** protocol, named_port, resolver_name, ipv4_compat */
const SOCKET_UNUSED = wireTypes({ 1: VARINT, 4: LEN, 5: LEN, 6: VARINT });
/** time */
const REQUEST_UNUSED = wireTypes({ 1: LEN });
/** query, fragment, size, protocol */
const HTTP_UNUSED = wireTypes({ 7: LEN, 8: LEN, 9: VARINT, 10: LEN });
/** typed_filter_metadata */
const METADATA_UNUSED = wireTypes({ 2: LEN });

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});
/** Thrown inside the reader only, caught in decodeCheckInput: an object, so no stack is captured. */
const MALFORMED = Object.freeze({ malformed: true });


/**
 * undefined when the request has no `attributes.request.http` (nothing to authorize; the caller denies),
 * INVALID_REQUEST when the bytes are malformed. Never throws for any input.
 */
export function decodeCheckInput(bytes: Uint8Array): CheckInput | undefined | typeof INVALID_REQUEST {
  const buf = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Utf8Buffer;
  const r = new CheckRequestReader(buf);
  try {
    r.checkRequest(buf.length);
  } catch (e) {
    if (e === MALFORMED) return INVALID_REQUEST;
    throw e;
  }
  return r.input();
}

/** Holds the fields read so far; a message's reader resets its fields first, so a repeated one replaces. */
class CheckRequestReader {
  private pos = 0;
  private hasHttp = false;
  private streamId: string | undefined;
  private method: string | undefined;
  private path: string | undefined;
  private host: string | undefined;
  private scheme: string | undefined;
  private headers: Record<string, string> | undefined;
  private headerMap: Record<string, string> | undefined;
  private body: string | undefined;
  private rawBodyStart = 0;
  private rawBodyEnd = 0;
  private principal: string | undefined;
  private certificate: string | undefined;
  private socketAddress: string | undefined;
  private portValue: number | undefined;
  private contextExtensions: Record<string, string> | undefined;
  private filterMetadata: Record<string, Record<string, unknown>> | undefined;

  constructor(private readonly buf: Utf8Buffer) {}

  /** The same object the reference decoder builds from proto-loader's decode, key for key. */
  input(): CheckInput | undefined {
    if (!this.hasHttp) return undefined;
    const headers = this.headers ?? this.headerMap ?? {};
    const bodyText = this.rawBodyEnd > this.rawBodyStart ? this.buf.utf8Slice(this.rawBodyStart, this.rawBodyEnd) : this.body;
    return {
      requestId: headers['x-request-id'] ?? '',
      streamId: this.streamId ?? '',
      method: this.method || headers[':method'] || '',
      path: this.path || headers[':path'] || '',
      host: this.host || headers[':authority'] || '',
      scheme: this.scheme || headers[':scheme'] || '',
      headers,
      body: bodyText ? { text: bodyText, partial: headers['x-envoy-auth-partial-body'] === 'true' } : undefined,
      contextExtensions: this.contextExtensions ?? EMPTY,
      source: {
        principal: this.principal ?? '',
        certificate: this.certificate ?? '',
        address: this.socketAddress ? `${this.socketAddress}:${this.portValue ?? 0}` : '',
      },
      filterMetadata: this.filterMetadata ?? {},
    };
  }

  // ---- CheckRequest { AttributeContext attributes = 1 }

  checkRequest(end: number): void {
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 === 1) this.attributes(this.nested(tag, end));
      else this.skip(tag, end, NONE);
    }
  }

  // ---- AttributeContext { Peer source = 1; Request request = 4; map<string,string> context_extensions = 10;
  //      Metadata metadata_context = 11 }; destination, tls_session, route_metadata_context are skipped.

  private attributes(end: number): void {
    this.resetSource();
    this.resetHttp();
    this.hasHttp = false;
    this.contextExtensions = undefined;
    this.filterMetadata = undefined;
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 1: this.source(this.nested(tag, end)); break;
        case 4: this.request(this.nested(tag, end)); break;
        case 10: this.contextExtensions = this.stringEntry(this.nested(tag, end), this.contextExtensions ?? {}); break;
        case 11: this.metadata(this.nested(tag, end)); break;
        default: this.skip(tag, end, ATTRIBUTES_UNUSED);
      }
    }
  }

  // ---- Peer { Address address = 1; string principal = 4; string certificate = 5 }
  //      Address { SocketAddress socket_address = 1 }
  //      SocketAddress { string address = 2; uint32 port_value = 3 }

  private resetSource(): void {
    this.principal = this.certificate = this.socketAddress = this.portValue = undefined;
  }

  private source(end: number): void {
    this.resetSource();
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 1: this.address(this.nested(tag, end)); break;
        case 4: this.principal = this.string(tag, end); break;
        case 5: this.certificate = this.string(tag, end); break;
        default: this.skip(tag, end, PEER_UNUSED);
      }
    }
  }

  private address(end: number): void {
    this.socketAddress = this.portValue = undefined;
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 === 1) this.socket(this.nested(tag, end));
      else this.skip(tag, end, ADDRESS_UNUSED);
    }
  }

  private socket(end: number): void {
    this.socketAddress = this.portValue = undefined;
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 2: this.socketAddress = this.string(tag, end); break;
        case 3: this.portValue = this.varintField(tag, end); break;
        default: this.skip(tag, end, SOCKET_UNUSED);
      }
    }
  }

  // ---- Request { HttpRequest http = 2 }
  //      HttpRequest { string id = 1; string method = 2; map<string,string> headers = 3; string path = 4;
  //      string host = 5; string scheme = 6; string body = 11; bytes raw_body = 12; HeaderMap header_map = 13 }

  private resetHttp(): void {
    this.streamId = this.method = this.path = this.host = this.scheme = this.body = undefined;
    this.headers = this.headerMap = undefined;
    this.rawBodyStart = this.rawBodyEnd = 0;
  }

  private request(end: number): void {
    this.resetHttp();
    this.hasHttp = false;
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 === 2) this.http(this.nested(tag, end));
      else this.skip(tag, end, REQUEST_UNUSED);
    }
  }

  private http(end: number): void {
    this.resetHttp();
    this.hasHttp = true;
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 1: this.streamId = this.string(tag, end); break;
        case 2: this.method = this.string(tag, end); break;
        case 3: this.headers = this.stringEntry(this.nested(tag, end), this.headers ?? {}); break;
        case 4: this.path = this.string(tag, end); break;
        case 5: this.host = this.string(tag, end); break;
        case 6: this.scheme = this.string(tag, end); break;
        case 11: this.body = this.string(tag, end); break;
        case 12: this.rawBodyEnd = this.nested(tag, end); this.rawBodyStart = this.pos; this.pos = this.rawBodyEnd; break;
        case 13: this.headerMap = this.headerValues(this.nested(tag, end)); break;
        default: this.skip(tag, end, HTTP_UNUSED);
      }
    }
  }

  // ---- HeaderMap { repeated HeaderValue headers = 1 }
  //      HeaderValue { string key = 1; string value = 2; bytes raw_value = 3 }

  /** Lower-cased names, repeats joined with ',', raw_value over value, as a record. */
  private headerValues(end: number): Record<string, string> {
    const out: Record<string, string> = {};
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 !== 1) {
        this.skip(tag, end, NONE);
        continue;
      }
      const stop = this.nested(tag, end);
      let key = '';
      let value = '';
      let rawStart = 0;
      let rawEnd = 0;
      while (this.pos < stop) {
        const t = this.tag(stop);
        switch (t >>> 3) {
          case 1: key = this.key(t, stop); break;
          case 2: value = this.string(t, stop, !CREDENTIAL_HEADERS.has(key.toLowerCase())); break;
          case 3: rawEnd = this.nested(t, stop); rawStart = this.pos; this.pos = rawEnd; break;
          default: this.skip(t, stop, NONE);
        }
      }
      if (!key) continue;
      if (rawEnd > rawStart) value = this.buf.utf8Slice(rawStart, rawEnd);
      key = key.toLowerCase();
      setOwn(out, key, Object.hasOwn(out, key) ? `${out[key]},${value}` : value);
    }
    return out;
  }

  // ---- map<string, string> entry { string key = 1; string value = 2 }

  private stringEntry(end: number, into: Record<string, string>): Record<string, string> {
    let key = '';
    let value = '';
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 1: key = this.key(tag, end); break;
        case 2: value = this.string(tag, end, !CREDENTIAL_HEADERS.has(key)); break;
        default: this.skip(tag, end, NONE);
      }
    }
    setOwn(into, key, value);
    return into;
  }

  // ---- Metadata { map<string, Struct> filter_metadata = 1 }
  //      Struct { map<string, Value> fields = 1 }
  //      Value { NullValue null_value = 1; double number_value = 2; string string_value = 3; bool bool_value = 4;
  //      Struct struct_value = 5; ListValue list_value = 6 }     ListValue { repeated Value values = 1 }

  private metadata(end: number): void {
    const out: Record<string, Record<string, unknown>> = {};
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 !== 1) {
        this.skip(tag, end, METADATA_UNUSED);
        continue;
      }
      const stop = this.nested(tag, end);
      let ns = '';
      let struct: Record<string, unknown> = {};
      while (this.pos < stop) {
        const t = this.tag(stop);
        switch (t >>> 3) {
          case 1: ns = this.key(t, stop); break;
          case 2: struct = this.struct(this.nested(t, stop), 1); break;
          default: this.skip(t, stop, NONE);
        }
      }
      setOwn(out, ns, struct);
    }
    this.filterMetadata = out;
  }

  private struct(end: number, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw MALFORMED;
    const out: Record<string, unknown> = {};
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 !== 1) {
        this.skip(tag, end, NONE);
        continue;
      }
      const stop = this.nested(tag, end);
      let key = '';
      let value: unknown = null;
      while (this.pos < stop) {
        const t = this.tag(stop);
        switch (t >>> 3) {
          case 1: key = this.key(t, stop); break;
          case 2: value = this.value(this.nested(t, stop), depth); break;
          default: this.skip(t, stop, NONE);
        }
      }
      setOwn(out, key, value);
    }
    return out;
  }

  private value(end: number, depth: number): unknown {
    let string: string | undefined;
    let number: number | undefined;
    let bool: boolean | undefined;
    let struct: Record<string, unknown> | undefined;
    let list: unknown[] | undefined;
    while (this.pos < end) {
      const tag = this.tag(end);
      switch (tag >>> 3) {
        case 1: this.varintField(tag, end); break; // null_value: null unless another kind is set
        case 2: number = this.double(tag, end); break;
        case 3: string = this.string(tag, end); break;
        case 4: bool = this.varintField(tag, end) !== 0; break;
        case 5: struct = this.struct(this.nested(tag, end), depth + 1); break;
        case 6: list = this.list(this.nested(tag, end), depth + 1); break;
        default: this.skip(tag, end, NONE);
      }
    }
    return string ?? number ?? bool ?? struct ?? list ?? null;
  }

  private list(end: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) throw MALFORMED;
    const out: unknown[] = [];
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag >>> 3 === 1) out.push(this.value(this.nested(tag, end), depth));
      else this.skip(tag, end, NONE);
    }
    return out;
  }

  // ---- wire primitives: each read stays within `end` (its enclosing message) or throws MALFORMED

  private tag(end: number): number {
    const b = this.buf[this.pos]!;
    if (b < 0x80) {
      this.pos++;
      return b;
    }
    return this.uint32(end);
  }


  /** A length-delimited field's end, after checking it lies within the enclosing message. */
  private nested(tag: number, end: number): number {
    if ((tag & 7) !== LEN) throw MALFORMED;
    const length = this.uint32(end);
    if (length > end - this.pos) throw MALFORMED;
    return this.pos + length;
  }

  private string(tag: number, end: number, cacheable = true): string {
    const stop = this.nested(tag, end);
    const start = this.pos;
    this.pos = stop;
    return cacheable && stop - start <= values.width ? values.get(this.buf, start, stop) : this.buf.utf8Slice(start, stop);
  }

  /** A map key: header names and the like, few and repeated, come back internalized for the store that follows. */
  private key(tag: number, end: number): string {
    const stop = this.nested(tag, end);
    const start = this.pos;
    this.pos = stop;
    return stop - start <= keys.width ? keys.get(this.buf, start, stop) : this.buf.utf8Slice(start, stop);
  }

  private double(tag: number, end: number): number {
    if ((tag & 7) !== I64) throw MALFORMED;
    if (end - this.pos < 8) throw MALFORMED;
    this.pos += 8;
    return this.buf.readDoubleLE(this.pos - 8);
  }

  /** Tags and lengths: at most 5 bytes and 32 bits, as every encoder writes them. */
  private uint32(end: number): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= end) throw MALFORMED;
      const b = buf[this.pos++]!;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) return value;
    }
    if (this.pos >= end) throw MALFORMED;
    const b = buf[this.pos++]!;
    if (b > 0x0f) throw MALFORMED;
    return (value | (b << 28)) >>> 0;
  }

  /** uint32, bool and enum values: up to 10 bytes (a negative enum takes 10), low 32 bits kept, as protobufjs's uint32() does. */
  private varintField(tag: number, end: number): number {
    if ((tag & 7) !== VARINT) throw MALFORMED;
    const buf = this.buf;
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw MALFORMED;
      const b = buf[this.pos++]!;
      if (i < 5) value |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return value >>> 0;
    }
    throw MALFORMED;
  }

  /** A field this decoder does not use: malformed if the schema gives it another wire type, else passed over unread. */
  private skip(tag: number, end: number, unused: WireTypes): void {
    const expected = unused[tag >>> 3];
    if (expected !== undefined && expected !== NOT_IN_SCHEMA && expected !== (tag & 7)) throw MALFORMED;
    this.skipValue(tag, end, 0);
  }

  /** int64s, nested messages and groups cost a bounds check each, never a parse. */
  private skipValue(tag: number, end: number, depth: number): void {
    if (tag < 8) throw MALFORMED; // field number 0
    switch (tag & 7) {
      case VARINT:
        for (let i = 0; ; i++) {
          if (i === 10 || this.pos >= end) throw MALFORMED;
          if (this.buf[this.pos++]! < 0x80) return;
        }
      case I64:
        if (end - this.pos < 8) throw MALFORMED;
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.nested(tag, end);
        return;
      case I32:
        if (end - this.pos < 4) throw MALFORMED;
        this.pos += 4;
        return;
      case SGROUP:
        if (depth >= MAX_DEPTH) throw MALFORMED;
        for (;;) {
          if (this.pos >= end) throw MALFORMED;
          const t = this.tag(end);
          if ((t & 7) === EGROUP) {
            if (t >>> 3 !== tag >>> 3) throw MALFORMED;
            return;
          }
          this.skipValue(t, end, depth + 1);
        }
      default: // a stray end-group, or wire type 6/7
        throw MALFORMED;
    }
  }
}
