// The wire decoder must read every well-formed CheckRequest exactly as proto-loader's deserializer
// followed by the reference decoder (test/helpers/reference-codec/decode.ts) does, and answer
// INVALID_REQUEST (never throw, never hang) for bytes that are not one. Random cases are seeded: DECODE_WIRE_SEED=<n> replays a reported failure.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { checkInputFromRequest } from '../../helpers/reference-codec/decode.js';
import { decodeCheckInput, INVALID_REQUEST, MAX_DEPTH } from '../../../src/grpc/decode-wire.js';
import type { PbCheckRequest, PbStruct, PbValue } from '../../../src/grpc/envoy-types.js';
import { authorizationServiceDefinition } from '../../../src/grpc/protos.js';
import { rng } from '../../helpers/random.js';

const SEED = Number(process.env.DECODE_WIRE_SEED ?? 20261123);

const def = authorizationServiceDefinition().Check!;
const encode = (request: object): Buffer => def.requestSerialize(request);
const reference = (bytes: Buffer) => checkInputFromRequest(def.requestDeserialize(bytes) as PbCheckRequest);

function expectAgree(bytes: Buffer, context = ''): void {
  expect(decodeCheckInput(bytes), context).toStrictEqual(reference(bytes));
}

// ---- a test-side protobuf writer and field walker, independent of the decoder under test

function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  for (; v >= 0x80n; v >>= 7n) out.push(Number(v & 0x7fn) | 0x80);
  out.push(Number(v));
  return Buffer.from(out);
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const lenField = (field: number, ...payload: Uint8Array[]) => {
  const body = Buffer.concat(payload);
  return Buffer.concat([tag(field, 2), varint(body.length), body]);
};
const strField = (field: number, s: string) => lenField(field, Buffer.from(s, 'utf8'));
const varintField = (field: number, n: number | bigint) => Buffer.concat([tag(field, 0), varint(n)]);

/** Request { http = 2 } in AttributeContext.request = 4 in CheckRequest.attributes = 1. */
const requestWith = (http: Buffer[], attributes: Buffer[] = []) =>
  lenField(1, ...attributes, lenField(4, lenField(2, ...http)));

interface WireField {
  field: number;
  wire: number;
  start: number;
  payloadStart: number;
  end: number;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [v, pos];
  }
}

/** The fields of a well-formed message, groups included. */
function fieldsOf(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  const skip = (wire: number, field: number): void => {
    if (wire === 0) pos = readVarint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [n, p] = readVarint(buf, pos);
      pos = p + Number(n);
    } else if (wire === 3) {
      for (;;) {
        const [t, p] = readVarint(buf, pos);
        pos = p;
        if (Number(t & 7n) === 4 && Number(t >> 3n) === field) return;
        skip(Number(t & 7n), Number(t >> 3n));
      }
    }
  };
  while (pos < buf.length) {
    const start = pos;
    const [t, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(t >> 3n);
    const wire = Number(t & 7n);
    const payloadStart = wire === 2 ? readVarint(buf, pos)[1] : pos;
    skip(wire, field);
    out.push({ field, wire, start, payloadStart, end: pos });
  }
  return out;
}

/** Rewrites the message at `path` (field numbers, first occurrence at each level); unchanged when absent. */
function rewriteAt(buf: Buffer, path: number[], rewrite: (message: Buffer) => Buffer): Buffer {
  if (path.length === 0) return rewrite(buf);
  const f = fieldsOf(buf).find((x) => x.field === path[0] && x.wire === 2);
  if (!f) return buf;
  const inner = rewriteAt(buf.subarray(f.payloadStart, f.end), path.slice(1), rewrite);
  return Buffer.concat([buf.subarray(0, f.start), lenField(f.field, inner), buf.subarray(f.end)]);
}

// ---- seeded randomness

class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }
  ascii(max: number): string {
    return String.fromCharCode(...Array.from({ length: this.int(max + 1) }, () => 0x20 + this.int(0x5f)));
  }
  string(): string {
    switch (this.int(6)) {
      case 0: return '';
      case 1: return this.pick(['POST', 'GET', 'https', 'application/json', 'true', 'false', '*/*', '0']);
      case 2: return Array.from({ length: 1 + this.int(4) }, () => this.pick(['é', '日本語', '😀', 'ß', 'İ', '\u0000', '\ud800', 'a-b'])).join('');
      case 3: return 'x'.repeat(60 + this.int(10)) + this.ascii(3); // either side of the string cache's width
      case 4: return this.ascii(300);
      default: return this.ascii(24);
    }
  }
  /** Names Object.prototype also has among them: both decoders keep those as own keys. */
  key(): string {
    return this.chance(0.5)
      ? this.pick([':authority', ':method', ':path', ':scheme', 'x-request-id', 'x-envoy-auth-partial-body', 'Content-Type', 'X-Dup', 'x-dup', 'authorization', '', '__proto__', 'Constructor'])
      : this.string();
  }
  record(max: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = this.int(max + 1); i > 0; i--) out[this.key()] = this.string();
    return out;
  }
}

// ---- random CheckRequests, in proto-loader's object form

function randomValue(r: Random, depth: number): PbValue {
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0: return { nullValue: 'NULL_VALUE' };
    case 1: return { numberValue: r.pick([0, -0, 1, -1.5, 1e21, -1e-7, Number.MAX_VALUE, NaN, Infinity, -Infinity, r.next() * 1e6]) };
    case 2: return { stringValue: r.string() };
    case 3: return { boolValue: r.chance(0.5) };
    case 4: return {}; // no kind: reads as null
    case 5: return { structValue: randomStruct(r, depth + 1) };
    case 6: return { listValue: { values: Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1)) } };
    default: return { stringValue: r.string(), numberValue: r.next(), boolValue: true }; // several kinds at once
  }
}

function randomStruct(r: Random, depth = 1): PbStruct {
  const fields: Record<string, PbValue> = {};
  for (let i = r.int(5); i > 0; i--) fields[r.key()] = randomValue(r, depth);
  return { fields };
}

function randomPeer(r: Random): object {
  return {
    address: r.chance(0.8)
      ? {
          socket_address: r.chance(0.9)
            ? { protocol: r.pick(['TCP', 'UDP']), address: r.pick(['', '10.0.3.17', '::1', r.string()]), port_value: r.chance(0.8) ? r.int(2 ** 32) : undefined, resolver_name: r.chance(0.2) ? 'dns' : undefined, ipv4_compat: r.chance(0.2) }
            : undefined,
          pipe: r.chance(0.1) ? { path: '/tmp/sock', mode: 420 } : undefined,
        }
      : undefined,
    service: r.chance(0.3) ? r.string() : undefined,
    labels: r.chance(0.3) ? r.record(3) : undefined,
    principal: r.chance(0.6) ? r.string() : undefined,
    certificate: r.chance(0.3) ? encodeURIComponent(r.ascii(60)) : undefined,
  };
}

function randomHttp(r: Random): object {
  const maybe = <T>(p: number, f: () => T) => (r.chance(p) ? f() : undefined);
  return {
    id: maybe(0.8, () => String(r.int(2 ** 53))),
    method: maybe(0.7, () => r.pick(['GET', 'POST', '', r.string()])),
    headers: maybe(0.7, () => r.record(12)),
    header_map: maybe(0.4, () => ({
      headers: Array.from({ length: r.int(10) }, () => ({
        key: r.key(),
        value: maybe(0.8, () => r.string()),
        raw_value: maybe(0.3, () => Buffer.from(r.string(), 'utf8')),
      })),
    })),
    path: maybe(0.7, () => r.string()),
    host: maybe(0.7, () => r.string()),
    scheme: maybe(0.5, () => r.pick(['https', 'http', ''])),
    query: maybe(0.2, () => r.string()),
    fragment: maybe(0.1, () => r.string()),
    size: maybe(0.3, () => r.pick(['0', '-1', '9223372036854775807', String(r.int(1e6))])),
    protocol: maybe(0.3, () => r.pick(['HTTP/1.1', 'HTTP/2'])),
    body: maybe(0.3, () => r.string()),
    raw_body: maybe(0.2, () => (r.chance(0.3) ? Buffer.alloc(0) : r.bytes(r.int(40)))),
  };
}

function randomRequest(r: Random): object {
  if (r.chance(0.02)) return {};
  const maybe = <T>(p: number, f: () => T) => (r.chance(p) ? f() : undefined);
  const metadata = () => ({
    filter_metadata: Object.fromEntries(Array.from({ length: r.int(3) }, () => [r.key(), randomStruct(r)])),
    typed_filter_metadata: maybe(0.2, () => ({ other: { type_url: 'type.googleapis.com/google.protobuf.Empty', value: r.bytes(3) } })),
  });
  return {
    attributes: maybe(0.97, () => ({
      source: maybe(0.8, () => randomPeer(r)),
      destination: maybe(0.5, () => randomPeer(r)),
      request: maybe(0.95, () => ({
        time: maybe(0.5, () => ({ seconds: String(r.int(2 ** 40)), nanos: r.int(1e9) })),
        http: maybe(0.95, () => randomHttp(r)),
      })),
      context_extensions: maybe(0.4, () => r.record(4)),
      metadata_context: maybe(0.4, metadata),
      route_metadata_context: maybe(0.2, metadata),
      tls_session: maybe(0.2, () => ({ sni: r.string() })),
    })),
  };
}

/** An unknown field of any skippable wire type, groups nested; numbers no message here uses. */
function unknownField(r: Random, depth = 0): Buffer {
  const field = r.pick([100 + r.int(100), 5000 + r.int(1e6), 2 ** 29 - 1 - r.int(8)]);
  switch (r.int(depth < 3 ? 5 : 4)) {
    case 0: return Buffer.concat([tag(field, 0), varint(r.pick([0, 1, 300, -1, 2 ** 40, -(2 ** 62)]))]);
    case 1: return Buffer.concat([tag(field, 1), r.bytes(8)]);
    case 2: return lenField(field, r.bytes(r.int(20)));
    case 3: return Buffer.concat([tag(field, 5), r.bytes(4)]);
    default: return Buffer.concat([tag(field, 3), ...Array.from({ length: r.int(3) }, () => unknownField(r, depth + 1)), tag(field, 4)]);
  }
}

/** Every message modelgate reads, by field-number path from CheckRequest. */
const MESSAGE_PATHS = [
  [], [1], [1, 1], [1, 1, 1], [1, 1, 1, 1], [1, 4], [1, 4, 2], [1, 4, 2, 3], [1, 4, 2, 13], [1, 4, 2, 13, 1],
  [1, 10], [1, 11], [1, 11, 1], [1, 11, 1, 2], [1, 11, 1, 2, 1], [1, 11, 1, 2, 1, 2],
];

/** Same meaning, other bytes: unknown fields anywhere, fields out of order, a second `attributes`. */
function scramble(r: Random, bytes: Buffer): Buffer {
  for (let i = r.int(4); i > 0; i--) bytes = rewriteAt(bytes, r.pick(MESSAGE_PATHS), (m) => Buffer.concat([m, unknownField(r)]));
  if (r.chance(0.3)) {
    bytes = rewriteAt(bytes, r.pick([[1], [1, 4, 2]]), (m) => {
      const parts = fieldsOf(m).map((f) => m.subarray(f.start, f.end));
      for (let i = parts.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [parts[i], parts[j]] = [parts[j]!, parts[i]!];
      }
      return Buffer.concat(parts);
    });
  }
  if (r.chance(0.05)) bytes = Buffer.concat([encode(randomRequest(r)), bytes]);
  return bytes;
}

// ---- differential: the same CheckInput as proto-loader + checkInputFromRequest

describe('decodeCheckInput agrees with proto-loader + checkInputFromRequest', () => {
  const jwtPayload: PbStruct = {
    fields: {
      iss: { stringValue: 'https://issuer.example' },
      sub: { stringValue: 'user:alice@example.com' },
      exp: { numberValue: 1_900_000_000 },
      roles: { listValue: { values: [{ stringValue: 'analyst' }, { stringValue: 'viewer' }] } },
      email_verified: { boolValue: true },
      nickname: { nullValue: 'NULL_VALUE' },
      unset: {},
      org: { structValue: { fields: { id: { numberValue: 42.5 }, tags: { listValue: { values: [] } }, nested: { structValue: {} } } } },
    },
  };

  it.each([
    ['the default Envoy request', {}],
    ['a GET without body', { method: 'GET', path: '/v1/models/churn?x=1' }],
    ['a complete body', { body: '{"inputs":[1,2,3]}' }],
    ['a partial body', { body: '{"inputs":[1,2', partialBody: true }],
    ['an mTLS peer with certificate', { principal: 'spiffe://bench.local/ns/ml/sa/batch-scorer', certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n' }],
    ['context extensions', { contextExtensions: { model: 'fraud-detector', action: 'predict', '': 'empty key' } }],
    ['jwt_authn filter metadata', { filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { payload: { structValue: jwtPayload } } }, empty: {} } }],
    ['unicode everywhere', { path: '/v1/models/модель:predict', host: '例え.jp', headers: { 'x-name': 'Ünïcødé 😀', 'x-€': '€' }, body: 'naïve ☃', contextExtensions: { 'clé': 'valeur ✓' } }],
    ['an empty request id', { requestId: '' }],
  ] as const)('%s', (_name, options) => {
    const bytes = encode(envoyCheckRequest(options));
    expect(decodeCheckInput(bytes)).not.toBe(INVALID_REQUEST);
    expectAgree(bytes);
  });

  it('reads header_map when headers is empty: lower-cased, repeats joined, raw_value over value, empty keys dropped', () => {
    const bytes = encode({
      attributes: {
        request: {
          http: {
            header_map: {
              headers: [
                { key: ':Method', value: 'PUT' },
                { key: ':path', raw_value: Buffer.from('/raw') },
                { key: 'X-Dup', value: 'a' },
                { key: 'x-dup', raw_value: Buffer.from('b'), value: 'ignored' },
                { key: 'x-DUP', value: '' },
                { key: '', value: 'dropped' },
                { key: 'x-envoy-auth-partial-body', value: 'true' },
                { key: 'x-request-id', raw_value: Buffer.alloc(0), value: 'rid' },
              ],
            },
            body: 'partial',
          },
        },
      },
    });
    expectAgree(bytes);
    const input = decodeCheckInput(bytes);
    expect(input).toMatchObject({ method: 'PUT', path: '/raw', requestId: 'rid', body: { text: 'partial', partial: true } });
    expect(typeof input === 'object' && input.headers).toEqual({
      ':method': 'PUT', ':path': '/raw', 'x-dup': 'a,b,', 'x-envoy-auth-partial-body': 'true', 'x-request-id': 'rid',
    });
  });

  it('prefers a non-empty headers map over header_map', () => {
    expectAgree(encode({ attributes: { request: { http: { headers: { a: '1' }, header_map: { headers: [{ key: 'b', value: '2' }] } } } } }));
  });

  it('prefers a non-empty raw_body over body, and body over an empty raw_body', () => {
    const withRaw = encode({ attributes: { request: { http: { body: 'text', raw_body: Buffer.from('raw ☃') } } } });
    const emptyRaw = encode({ attributes: { request: { http: { body: 'text', raw_body: Buffer.alloc(0) } } } });
    expectAgree(withRaw);
    expectAgree(emptyRaw);
    expect(decodeCheckInput(withRaw)).toMatchObject({ body: { text: 'raw ☃', partial: false } });
    expect(decodeCheckInput(emptyRaw)).toMatchObject({ body: { text: 'text' } });
  });

  it('empty messages: no bytes, no attributes, no http, an empty http', () => {
    for (const request of [{}, { attributes: {} }, { attributes: { request: {} } }, { attributes: { source: { principal: 'p' }, request: { time: { seconds: '1' } } } }]) {
      expect(decodeCheckInput(encode(request))).toBeUndefined();
      expectAgree(encode(request));
    }
    expectAgree(encode({ attributes: { request: { http: {} } } }));
    expect(decodeCheckInput(encode({ attributes: { request: { http: {} } } }))).toMatchObject({ path: '', headers: {}, source: { address: '' } });
  });

  it('skips every field it does not use, and the unknown ones', () => {
    const full = {
      attributes: {
        source: { address: { socket_address: { protocol: 'UDP', address: '10.0.3.17', named_port: 'http', resolver_name: 'r', ipv4_compat: true }, pipe: { path: '/p' } }, service: 's', labels: { a: 'b' }, principal: 'p' },
        destination: { address: { socket_address: { address: '10.0.0.5', port_value: 8443 } }, principal: 'spiffe://envoy', labels: { x: 'y' } },
        request: { time: { seconds: '1763900000', nanos: 123 }, http: { id: '7', method: 'GET', path: '/p', host: 'h', scheme: 'https', query: 'a=1', fragment: 'f', size: '-1', protocol: 'HTTP/2' } },
        route_metadata_context: { filter_metadata: { route: { fields: { a: { stringValue: 'b' } } } } },
        metadata_context: { typed_filter_metadata: { t: { type_url: 'type.googleapis.com/google.protobuf.Empty', value: Buffer.from([1, 2]) } } },
        tls_session: { sni: 'models.example.com' },
      },
    };
    const bytes = encode(full);
    expectAgree(bytes);
    expect(decodeCheckInput(bytes)).toMatchObject({ source: { address: '10.0.3.17:0', principal: 'p' }, filterMetadata: {} });
    const r = new Random(SEED);
    for (const path of MESSAGE_PATHS) {
      const request = envoyCheckRequest({ contextExtensions: { k: 'v' }, filterMetadata: { ns: { fields: { a: { numberValue: 1 } } } }, requestId: 'r' });
      request.attributes!.request!.http!.header_map = { headers: [{ key: 'ignored', value: 'while headers is not empty' }] };
      const base = encode(request);
      const withUnknown = rewriteAt(base, path, (m) => Buffer.concat([unknownField(r), m, unknownField(r), unknownField(r, 2)]));
      expect(withUnknown.length, `path ${path}`).toBeGreaterThan(base.length);
      expect(decodeCheckInput(withUnknown), `path ${path}`).toStrictEqual(decodeCheckInput(base));
      expectAgree(withUnknown, `path ${path}`);
    }
  });

  it('a repeated message field replaces the earlier one; a repeated map key keeps the later value', () => {
    const first = encode(envoyCheckRequest({ path: '/first', principal: 'first', contextExtensions: { a: '1' } }));
    const second = encode({ attributes: { request: { http: { path: '/second' } } } });
    const both = Buffer.concat([first, second]);
    expectAgree(both);
    expect(decodeCheckInput(both)).toMatchObject({ path: '/second', source: { principal: '' }, contextExtensions: {} });
    const dupKeys = requestWith([lenField(3, strField(1, 'k'), strField(2, 'old')), lenField(3, strField(1, 'k'), strField(2, 'new'))], [lenField(10, strField(1, 'c'), strField(2, 'x')), lenField(10, strField(1, 'c'), strField(2, 'y'))]);
    expectAgree(dupKeys);
    expect(decodeCheckInput(dupKeys)).toMatchObject({ headers: { k: 'new' }, contextExtensions: { c: 'y' } });
  });

  it('a Value with several kinds reads as structToJson reads it: string, number, bool, struct, list', () => {
    const value = (...kinds: Buffer[]) => encodeMetadataValue(Buffer.concat(kinds));
    const str = strField(3, 's');
    const num = Buffer.concat([tag(2, 1), Buffer.from(new Float64Array([2.5]).buffer)]);
    const bool = varintField(4, 1);
    const list = lenField(6);
    const cases: Array<[Buffer, unknown]> = [
      [value(num, str), 's'],
      [value(str, num), 's'],
      [value(bool, num), 2.5],
      [value(list, bool), true],
      [value(varintField(1, 0), list), []],
      [value(varintField(1, 0)), null],
      [value(), null],
    ];
    for (const [bytes, expected] of cases) {
      expectAgree(bytes);
      expect(decodeCheckInput(bytes)).toMatchObject({ filterMetadata: { ns: { v: expected } } });
    }
  });

  it('decodes invalid UTF-8 to U+FFFD, as proto-loader does', () => {
    const bytes = requestWith([lenField(4, Buffer.from([0x2f, 0x78, 0xff, 0xc3])), lenField(3, strField(1, 'h'), lenField(2, Buffer.from([0xe2, 0x82])))]);
    expectAgree(bytes);
    expect(decodeCheckInput(bytes)).toMatchObject({ path: '/x\ufffd\ufffd', headers: { h: '\ufffd' } });
  });

  it('reads a Uint8Array, and a Buffer that is a slice of a larger one', () => {
    const bytes = encode(envoyCheckRequest({ requestId: 'r', body: 'b' }));
    const expected = reference(bytes);
    expect(decodeCheckInput(new Uint8Array(bytes))).toStrictEqual(expected);
    const padded = Buffer.concat([Buffer.from('junk before'), bytes, Buffer.from('junk after')]);
    expect(decodeCheckInput(padded.subarray(11, 11 + bytes.length))).toStrictEqual(expected);
  });

  it('returns the same strings when the bytes repeat, and different ones when they differ', () => {
    for (let i = 0; i < 3; i++) {
      for (const id of ['aaaa', 'aaab', 'baaa', 'aaaaaaaa', 'aaaaaaab']) {
        expect(decodeCheckInput(requestWith([strField(1, id), lenField(3, strField(1, id), strField(2, id))]))).toMatchObject({ streamId: id, headers: { [id]: id } });
      }
    }
  });

  it(`agrees on ${3000} seeded random requests (seed ${SEED})`, () => {
    const r = new Random(SEED);
    for (let i = 0; i < 3000; i++) {
      const bytes = scramble(r, encode(randomRequest(r)));
      const context = `DECODE_WIRE_SEED=${SEED}, case ${i}, bytes ${bytes.toString('base64')}`;
      expect(decodeCheckInput(bytes), context).not.toBe(INVALID_REQUEST);
      expectAgree(bytes, context);
    }
  });
});

/** filter_metadata { "ns": Struct { "v": <value bytes> } } in a request with http. */
function encodeMetadataValue(value: Buffer): Buffer {
  const struct = lenField(1, strField(1, 'v'), lenField(2, value));
  return requestWith([strField(4, '/p')], [lenField(11, lenField(1, strField(1, 'ns'), lenField(2, struct)))]);
}

// ---- keys that name Object.prototype members

describe('__proto__ and constructor are keys like any other', () => {
  const own = (o: object, key: string) => Object.getOwnPropertyDescriptor(o, key)?.value;

  it('headers and context extensions: own properties, plain prototypes, as proto-loader gives them', () => {
    const keys = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}') as Record<string, string>;
    const bytes = encode({ attributes: { request: { http: { headers: keys } }, context_extensions: keys } });
    expectAgree(bytes);
    const input = decodeCheckInput(bytes);
    if (typeof input !== 'object') throw new Error('no input');
    for (const record of [input.headers, input.contextExtensions]) {
      expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
      expect(Object.keys(record).sort()).toEqual(['__proto__', 'constructor', 'toString']);
      expect([own(record, '__proto__'), own(record, 'constructor'), own(record, 'toString')]).toEqual(['p', 'c', 't']);
    }
  });

  it('header_map: kept and joined like any header', () => {
    const bytes = encode({
      attributes: { request: { http: { header_map: { headers: [{ key: '__proto__', value: 'p1' }, { key: '__PROTO__', value: 'p2' }, { key: 'Constructor', value: 'c' }] } } } },
    });
    expectAgree(bytes);
    const input = decodeCheckInput(bytes);
    if (typeof input !== 'object') throw new Error('no input');
    expect(Object.getPrototypeOf(input.headers)).toBe(Object.prototype);
    expect(own(input.headers, '__proto__')).toBe('p1,p2');
    expect(own(input.headers, 'constructor')).toBe('c');
  });

  it('filter metadata: a __proto__ namespace or field holding a Struct never becomes a prototype', () => {
    const evil: PbStruct = { fields: JSON.parse('{"__proto__":{"structValue":{"fields":{"polluted":{"boolValue":true}}}}}') };
    const bytes = encode({ attributes: { request: { http: {} }, metadata_context: { filter_metadata: JSON.parse('{"__proto__":{}}') } } });
    const withField = encode({ attributes: { request: { http: {} }, metadata_context: { filter_metadata: { ns: evil } } } });
    const a = decodeCheckInput(bytes);
    const b = decodeCheckInput(withField);
    if (typeof a !== 'object' || typeof b !== 'object') throw new Error('no input');
    expect(Object.getPrototypeOf(a.filterMetadata)).toBe(Object.prototype);
    expect(own(a.filterMetadata, '__proto__')).toEqual({});
    const ns = b.filterMetadata.ns!;
    expect(Object.getPrototypeOf(ns)).toBe(Object.prototype);
    expect(own(ns, '__proto__')).toEqual({ polluted: true });
    expect((ns as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

// ---- malformed bytes: INVALID_REQUEST, never an exception

describe('decodeCheckInput refuses malformed bytes', () => {
  const valid = encode(
    envoyCheckRequest({
      body: '{"a":1}',
      requestId: 'r-1',
      contextExtensions: { model: 'm' },
      filterMetadata: { ns: { fields: { a: { listValue: { values: [{ numberValue: 1 }, { structValue: { fields: { b: { boolValue: false } } } }] } } } } },
    }),
  );

  it('every proper prefix of a request is invalid: the attributes field always declares more bytes', () => {
    expect(decodeCheckInput(valid.subarray(0, 0))).toBeUndefined();
    for (let n = 1; n < valid.length; n++) expect(decodeCheckInput(valid.subarray(0, n)), `prefix ${n}`).toBe(INVALID_REQUEST);
    expect(decodeCheckInput(valid)).not.toBe(INVALID_REQUEST);
  });

  it('a known field with the wrong wire type', () => {
    const http = (...fields: Buffer[]) => requestWith([strField(4, '/p'), ...fields]);
    const cases: Array<[string, Buffer, Buffer]> = [
      ['attributes as varint', lenField(1), varintField(1, 0)],
      // a varint 0 read as a length would give an empty string: the wire type alone must decide
      ['host as varint', http(strField(5, 'h')), http(varintField(5, 0))],
      ['headers entry as fixed32', http(lenField(3, strField(1, 'k'))), http(Buffer.concat([tag(3, 5), Buffer.alloc(4)]))],
      ['header key as varint', http(lenField(3, strField(1, 'k'))), http(lenField(3, varintField(1, 0)))],
      ['header_map as group', http(lenField(13)), http(Buffer.concat([tag(13, 3), tag(13, 4)]))],
      ['raw_body as fixed64', http(lenField(12, Buffer.from('b'))), http(Buffer.concat([tag(12, 1), Buffer.alloc(8)]))],
      ['port_value as string', requestWith([], [lenField(1, lenField(1, lenField(1, varintField(3, 80))))]), requestWith([], [lenField(1, lenField(1, lenField(1, strField(3, '80'))))])],
      ['context extension as varint', requestWith([], [lenField(10, strField(1, 'k'))]), requestWith([], [varintField(10, 0)])],
      ['number_value as varint', encodeMetadataValue(Buffer.concat([tag(2, 1), Buffer.alloc(8)])), encodeMetadataValue(varintField(2, 1))],
      ['bool_value as string', encodeMetadataValue(varintField(4, 1)), encodeMetadataValue(strField(4, 'true'))],
      ['struct_value as fixed32', encodeMetadataValue(lenField(5)), encodeMetadataValue(Buffer.concat([tag(5, 5), Buffer.alloc(4)]))],
      // fields modelgate passes over are checked too: proto-loader would read them by their declared type
      ['query as fixed64', http(strField(7, 'a=1')), http(Buffer.concat([tag(7, 1), Buffer.alloc(8)]))],
      ['size as string', http(varintField(9, 12)), http(strField(9, '12'))],
      ['destination as varint', requestWith([], [lenField(2)]), requestWith([], [varintField(2, 0)])],
      ['request.time as fixed32', lenField(1, lenField(4, lenField(1), lenField(2))), lenField(1, lenField(4, Buffer.concat([tag(1, 5), Buffer.alloc(4)]), lenField(2)))],
      ['socket protocol as string', requestWith([], [lenField(1, lenField(1, lenField(1, varintField(1, 1))))]), requestWith([], [lenField(1, lenField(1, lenField(1, strField(1, 'UDP'))))])],
    ];
    for (const [name, good, bad] of cases) {
      expect(decodeCheckInput(good), name).not.toBe(INVALID_REQUEST);
      expect(decodeCheckInput(bad), name).toBe(INVALID_REQUEST);
    }
  });

  it('lengths past the end, however large, and overlong varints', () => {
    const cases: Array<[string, Buffer]> = [
      ['attributes of 2^32-1 bytes', Buffer.concat([tag(1, 2), varint(2 ** 32 - 1), Buffer.alloc(16)])],
      ['attributes of 2^31 bytes', Buffer.concat([tag(1, 2), varint(2 ** 31), Buffer.alloc(16)])],
      ['a length of 2^35 in six bytes', Buffer.concat([tag(1, 2), varint(2 ** 35), Buffer.alloc(16)])],
      ['a length one past the end', Buffer.concat([tag(1, 2), varint(4), Buffer.alloc(3)])],
      // path declares 9 bytes, its HttpRequest holds 2 more; proto-loader cuts the string there and accepts it
      ['a string longer than its message', lenField(1, lenField(4, lenField(2, tag(4, 2), varint(9), Buffer.from('/p'))), strField(9, 'more bytes'))],
      ['a truncated tag', Buffer.from([0x80])],
      ['a tag of six bytes', Buffer.from([0x88, 0x80, 0x80, 0x80, 0x80, 0x00])],
      ['an unknown varint of eleven bytes', Buffer.concat([tag(100, 0), Buffer.alloc(10, 0x80), Buffer.from([1])])],
      ['a truncated fixed64', Buffer.concat([tag(100, 1), Buffer.alloc(7)])],
      ['a truncated fixed32', Buffer.concat([tag(100, 5), Buffer.alloc(3)])],
    ];
    for (const [name, bytes] of cases) expect(decodeCheckInput(bytes), name).toBe(INVALID_REQUEST);
  });

  it('wire types 6 and 7, a stray end-group, an unclosed or mismatched group, field number 0', () => {
    const ok = requestWith([strField(4, '/p')]);
    const cases: Array<[string, Buffer]> = [
      ['wire type 6', Buffer.concat([ok, tag(100, 6)])],
      ['wire type 7', Buffer.concat([ok, tag(100, 7)])],
      ['a stray end-group', Buffer.concat([ok, tag(100, 4)])],
      ['an unclosed group', Buffer.concat([ok, tag(100, 3), varintField(101, 1)])],
      ['a group closed by another field number', Buffer.concat([ok, tag(100, 3), tag(101, 4)])],
      ['field number 0', Buffer.concat([ok, tag(0, 0), varint(1)])],
    ];
    expect(decodeCheckInput(Buffer.concat([ok, tag(100, 3), varintField(101, 1), tag(100, 4)]))).not.toBe(INVALID_REQUEST);
    for (const [name, bytes] of cases) expect(decodeCheckInput(bytes), name).toBe(INVALID_REQUEST);
  });

  it(`Struct and list nesting up to ${MAX_DEPTH} levels, and not one more`, () => {
    for (const kind of ['struct', 'list', 'mixed'] as const) {
      const nested = (levels: number): PbStruct => {
        let v: PbValue = { stringValue: 'leaf' };
        for (let i = 1; i < levels; i++) {
          v = kind === 'struct' || (kind === 'mixed' && i % 2 === 0) ? { structValue: { fields: { a: v } } } : { listValue: { values: [v] } };
        }
        return { fields: { a: v } };
      };
      const request = (levels: number) => encode({ attributes: { request: { http: {} }, metadata_context: { filter_metadata: { ns: nested(levels) } } } });
      expectAgree(request(MAX_DEPTH), kind);
      expect(decodeCheckInput(request(MAX_DEPTH)), kind).not.toBe(INVALID_REQUEST);
      expect(decodeCheckInput(request(MAX_DEPTH + 1)), kind).toBe(INVALID_REQUEST);
    }
  });

  it('thousands of nested Structs or groups: invalid, without exhausting the stack', () => {
    let value = strField(3, 'leaf');
    for (let i = 0; i < 3000; i++) value = lenField(5, lenField(1, strField(1, 'a'), lenField(2, value)));
    expect(decodeCheckInput(encodeMetadataValue(value))).toBe(INVALID_REQUEST);
    const groups = Buffer.concat([...Array.from({ length: 3000 }, () => tag(100, 3)), ...Array.from({ length: 3000 }, () => tag(100, 4))]);
    expect(decodeCheckInput(Buffer.concat([requestWith([]), groups]))).toBe(INVALID_REQUEST);
    const shallow = Buffer.concat([...Array.from({ length: 8 }, () => tag(100, 3)), ...Array.from({ length: 8 }, () => tag(100, 4))]);
    expect(decodeCheckInput(Buffer.concat([requestWith([]), shallow]))).not.toBe(INVALID_REQUEST);
  });

  it(`seeded byte mutations never throw, and agree with proto-loader whenever both accept (seed ${SEED})`, () => {
    const r = new Random(SEED ^ 0x5eed);
    const bases = [valid, encode(envoyCheckRequest({ principal: 'spiffe://x', certificatePem: 'PEM' })), ...Array.from({ length: 20 }, () => scramble(r, encode(randomRequest(r))))];
    let invalid = 0;
    let compared = 0;
    for (let i = 0; i < 6000; i++) {
      const bytes = Buffer.from(r.pick(bases));
      const mutated = mutate(r, bytes);
      const context = `DECODE_WIRE_SEED=${SEED}, case ${i}, bytes ${mutated.toString('base64')}`;
      let result: ReturnType<typeof decodeCheckInput> = INVALID_REQUEST;
      expect(() => (result = decodeCheckInput(mutated)), context).not.toThrow();
      if (result === INVALID_REQUEST) {
        invalid++;
        continue;
      }
      let expected;
      try {
        expected = reference(mutated);
      } catch {
        continue; // proto-loader refuses bytes this decoder accepts, e.g. a Struct map entry without its value
      }
      compared++;
      expect(result, context).toStrictEqual(expected);
    }
    // Both outcomes must actually occur, or the mutations are not testing anything.
    expect(invalid).toBeGreaterThan(1000);
    expect(compared).toBeGreaterThan(1000);
  });
});

function mutate(r: Random, bytes: Buffer): Buffer {
  let out = bytes;
  for (let n = 1 + r.int(3); n > 0 && out.length > 0; n--) {
    const at = r.int(out.length);
    switch (r.int(5)) {
      case 0: out[at] = r.int(256); break;
      case 1: out[at] = out[at]! ^ (1 << r.int(8)); break;
      case 2: out = Buffer.concat([out.subarray(0, at), r.bytes(1 + r.int(3)), out.subarray(at)]); break;
      case 3: out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + r.int(3))]); break;
      default: out = Buffer.concat([out, out.subarray(at, at + r.int(12))]);
    }
  }
  return out;
}

// The decoder's string table is shared by all requests, so what it holds outlives the request. Seen
// from outside: decode in a fresh process, let the result go, and search a heap snapshot (V8 collects
// garbage before taking one) for the header values. Only the table can still be holding them then.
describe('the shared string table never holds a credential', () => {
  it('keeps short header values, but not those of credential headers, nor anything over 32 bytes', () => {
    const mark = randomBytes(6).toString('hex');
    const secrets = [`Bearer ${mark}a`, `k-${mark}b`, `sid=${mark}c`, `L${mark}d`.padEnd(33, 'L')];
    const kept = `plain-${mark}e`;
    const headers = { authorization: secrets[0]!, 'x-api-key': secrets[1]!, cookie: secrets[2]!, 'x-odd-header': kept, 'x-long': secrets[3]! };
    const requests = [false, true].map((viaMap) => {
      const request = envoyCheckRequest({ headers });
      if (viaMap) {
        const http = (request as any).attributes.request.http;
        http.header_map = { headers: Object.entries(http.headers).map(([key, value]) => ({ key: key.toUpperCase(), value })) };
        delete http.headers;
      }
      return encode(request).toString('base64');
    });
    for (const bytes of requests) expect((decodeCheckInput(Buffer.from(bytes, 'base64')) as { headers: Record<string, string> }).headers.authorization).toBe(secrets[0]);

    const dir = mkdtempSync(join(tmpdir(), 'decode-wire-heap-'));
    try {
      const snapshot = join(dir, 'decoder.heapsnapshot');
      // The values reach the child only as base64 protobuf, so no other string in its heap spells them.
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', HEAP_CHILD], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)), // where `--import tsx` resolves
        env: { ...process.env, DECODER: new URL('../../../src/grpc/decode-wire.ts', import.meta.url).href, REQUESTS: requests.join(','), SNAPSHOT: snapshot },
        encoding: 'utf8',
      });
      expect(child.stderr + child.stdout).toBe('decoded 2\n');
      const heap = readFileSync(snapshot, 'latin1');
      expect(heap.includes(kept), 'the short plain value stays in the table: the search can see it').toBe(true);
      for (const secret of secrets) expect(heap.includes(secret), secret).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

// Decoding happens in a function that has returned before the snapshot: a suspended or running
// frame would still hold the last result in a register.
const HEAP_CHILD = `
const { decodeCheckInput } = await import(process.env.DECODER);
const { writeHeapSnapshot } = await import('node:v8');
function decodeAll() {
  let n = 0;
  for (const b64 of process.env.REQUESTS.split(',')) {
    const input = decodeCheckInput(Buffer.from(b64, 'base64'));
    if (typeof input === 'object' && input.headers['x-odd-header'].startsWith('plain-')) n++;
  }
  return n;
}
const n = decodeAll();
writeHeapSnapshot(process.env.SNAPSHOT);
process.stdout.write('decoded ' + n + '\\n');
`;
