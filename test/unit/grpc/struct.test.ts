// Struct → JSON keeps every key an own property: a `__proto__` claim in Envoy's jwt_authn metadata
// must not hand the payload inherited claims.

import { describe, expect, it } from 'vitest';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';

describe('structToJson', () => {
  it('a __proto__ field is an own property, never the prototype', () => {
    const struct = JSON.parse('{"fields":{"__proto__":{"structValue":{"fields":{"roles":{"stringValue":"admin"}}}},"sub":{"stringValue":"u"}}}');
    const json = structToJson(struct);
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype);
    expect('roles' in json).toBe(false);
    expect(Object.keys(json)).toEqual(['__proto__', 'sub']);
    expect(Object.getOwnPropertyDescriptor(json, '__proto__')?.value).toEqual({ roles: 'admin' });
  });

  it('round-trips the flat values modelgate sends', () => {
    const obj = { s: 'x', n: 1.5, b: true, nil: null, list: [1, 'a'], nested: { k: 'v' } };
    expect(structToJson(jsonToStruct(obj))).toEqual(obj);
  });
});
