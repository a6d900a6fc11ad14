// Parses repeated `key=value` command-line options into a map with lower-case keys.

export function keyValues(list: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error(`expected key=value, got '${kv}'`);
      return [kv.slice(0, i).toLowerCase(), kv.slice(i + 1)];
    }),
  );
}
