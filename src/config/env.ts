// Environment overrides for the settings that differ between deployments (addresses, log level, Redis).

export type SettingSource = 'file' | 'default' | `env:${string}`;

/** env var → key path in the config. Secrets are not here: they are read from env/files by name. */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['MODELGATE_GRPC_ADDRESS', ['server', 'grpc', 'address']],
  ['MODELGATE_HTTP_ADDRESS', ['server', 'http', 'address']],
  ['MODELGATE_ADMIN_ADDRESS', ['server', 'admin', 'address']],
  ['MODELGATE_LOG_LEVEL', ['log', 'level']],
];

export function applyEnvOverrides(
  raw: unknown,
  env: NodeJS.ProcessEnv,
): { value: unknown; sources: Map<string, SettingSource> } {
  const sources = new Map<string, SettingSource>();
  const root = (raw && typeof raw === 'object' ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const [name, path] of ENV_OVERRIDES) {
    const key = path.join('.');
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') {
      setIn(root, path, fromEnv);
      sources.set(key, `env:${name}`);
    } else {
      sources.set(key, getIn(root, path) === undefined ? 'default' : 'file');
    }
  }
  return { value: root, sources };
}

function getIn(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function setIn(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (!next || typeof next !== 'object') cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}
