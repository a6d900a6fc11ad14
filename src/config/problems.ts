// Config problems as values: a key path plus a message, formatted with file and line for people.

export type KeyPath = ReadonlyArray<string | number>;

export interface ConfigProblem {
  readonly path: KeyPath;
  readonly message: string;
}

/** `policy.rules[3].when` */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || '(root)';
}

/** Thrown at startup (and by `modelgate validate`) with every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly lines: readonly string[],
  ) {
    super(`${file}: invalid configuration\n${lines.map((l) => `  ${l}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
