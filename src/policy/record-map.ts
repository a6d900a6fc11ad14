// A read-only Map view of a plain string record, so a CEL condition can read request headers
// without the engine copying all of them into a new Map on every evaluation.

/**
 * @bufbuild/cel turns a plain object into a Map by copying `Object.entries` each time the
 * variable is read, but wraps a `Map` as it is. This view answers every read a Map offers from
 * the record's own enumerable keys (exactly what `Object.entries` would have copied), so CEL
 * sees the same map. It is never written to: the record belongs to the check's input.
 */
export class RecordMap extends Map<string, string> {
  constructor(private readonly record: Readonly<Record<string, string>>) {
    super();
  }

  override get(key: string): string | undefined {
    return typeof key === 'string' && Object.prototype.propertyIsEnumerable.call(this.record, key) ? this.record[key] : undefined;
  }

  override has(key: string): boolean {
    return typeof key === 'string' && Object.prototype.propertyIsEnumerable.call(this.record, key);
  }

  override get size(): number {
    return Object.keys(this.record).length;
  }

  override forEach(callback: (value: string, key: string, map: Map<string, string>) => void, thisArg?: unknown): void {
    for (const [key, value] of Object.entries(this.record)) callback.call(thisArg, value, key, this);
  }

  override *entries(): MapIterator<[string, string]> {
    yield* Object.entries(this.record);
  }

  override *keys(): MapIterator<string> {
    yield* Object.keys(this.record);
  }

  override *values(): MapIterator<string> {
    yield* Object.values(this.record);
  }

  override [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  override set(): this {
    throw new TypeError('RecordMap is read-only');
  }

  override delete(): boolean {
    throw new TypeError('RecordMap is read-only');
  }

  override clear(): void {
    throw new TypeError('RecordMap is read-only');
  }
}
