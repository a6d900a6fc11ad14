// Environment overrides for the settings that differ between deployments (addresses, log level,
// secret file paths). Secrets themselves are never here: they are read from env/files by name.

export type SettingSource = 'file' | 'default' | `env:${string}`;

export type EnvValueKind = 'string' | 'boolean' | 'number' | 'list';

export interface EnvOverride {
  readonly name: string;
  /** Key path in the config. */
  readonly path: readonly string[];
  readonly kind?: EnvValueKind;
  /**
   * Applied only when this section is in the file: an env var may move a setting, never switch on
   * a whole feature (API keys, limits) the file does not configure.
   */
  readonly requires?: readonly string[];
}

/**
 * Every env override, in the order `modelgate validate` prints them. Adding a setting is one line.
 */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'MODELGATE_GRPC_ADDRESS', path: ['server', 'grpc', 'address'] },
  { name: 'MODELGATE_HTTP_ENABLED', path: ['server', 'http', 'enabled'], kind: 'boolean' },
  { name: 'MODELGATE_HTTP_ADDRESS', path: ['server', 'http', 'address'] },
  { name: 'MODELGATE_ADMIN_ENABLED', path: ['server', 'admin', 'enabled'], kind: 'boolean' },
  { name: 'MODELGATE_ADMIN_ADDRESS', path: ['server', 'admin', 'address'] },
  { name: 'MODELGATE_SHUTDOWN_GRACE_SECONDS', path: ['server', 'shutdown_grace_seconds'], kind: 'number' },
  { name: 'MODELGATE_LOG_LEVEL', path: ['log', 'level'] },
  { name: 'MODELGATE_LOG_DECISIONS', path: ['log', 'decisions'], kind: 'boolean' },
  { name: 'MODELGATE_LOG_REDACT_HEADERS', path: ['log', 'redact_headers'], kind: 'list' },
  { name: 'MODELGATE_API_KEY_SECRET_FILE', path: ['identity', 'api_keys', 'secret_file'], requires: ['identity', 'api_keys'] },
  { name: 'MODELGATE_API_KEYS_FILE', path: ['identity', 'api_keys', 'keys_file'], requires: ['identity', 'api_keys'] },
  { name: 'MODELGATE_REDIS_URL', path: ['limits', 'redis', 'url'], requires: ['limits'] },
];

export function applyEnvOverrides(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  overrides: readonly EnvOverride[] = ENV_OVERRIDES,
): { value: unknown; sources: Map<string, SettingSource> } {
  const sources = new Map<string, SettingSource>();
  const root = (raw && typeof raw === 'object' ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const o of overrides) {
    if (o.requires && !isObject(getIn(root, o.requires))) continue;
    const key = o.path.join('.');
    const fromEnv = env[o.name];
    if (fromEnv !== undefined && fromEnv !== '') {
      setIn(root, o.path, convert(fromEnv, o.kind ?? 'string'));
      sources.set(key, `env:${o.name}`);
    } else {
      sources.set(key, getIn(root, o.path) === undefined ? 'default' : 'file');
    }
  }
  return { value: root, sources };
}

/** An unparseable value is passed on as the string, so the schema reports it at its key path. */
function convert(value: string, kind: EnvValueKind): unknown {
  const v = value.trim();
  switch (kind) {
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(v)) return true;
      if (/^(false|0|no|off)$/i.test(v)) return false;
      return value;
    case 'number':
      return v !== '' && Number.isFinite(Number(v)) ? Number(v) : value;
    case 'list':
      return v.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return v;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

function getIn(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function setIn(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(cur[key])) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** One line per effective setting: `key = value  (source)`; secrets by where they come from, never by value. */
export function describeSettings(
  config: { readonly identity: { readonly api_keys?: { readonly secret_env: string; readonly secret_file?: string; readonly keys_file?: string }; readonly jwt?: { readonly issuers: ReadonlyArray<{ readonly name: string; readonly jwks_file?: string; readonly jwks_uri?: string; readonly discovery_url?: string }> } } },
  sources: ReadonlyMap<string, SettingSource>,
  env: NodeJS.ProcessEnv,
): string[] {
  const lines: string[] = [];
  for (const [key, source] of sources) {
    const value = getIn(config as unknown as Record<string, unknown>, key.split('.'));
    const shown = Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
    lines.push(`${key} = ${withoutUrlCredentials(shown)}  (${source})`);
  }
  const keys = config.identity.api_keys;
  if (keys) {
    const fileSource = sources.get('identity.api_keys.secret_file') ?? 'file';
    lines.push(
      keys.secret_file
        ? `identity.api_keys secret: read from file ${keys.secret_file}  (path from ${fileSource})`
        : `identity.api_keys secret: read from env ${keys.secret_env}  (${env[keys.secret_env] ? 'set' : 'NOT set'})`,
    );
  }
  for (const issuer of config.identity.jwt?.issuers ?? []) {
    const from = issuer.jwks_file ? `jwks_file ${issuer.jwks_file}` : issuer.jwks_uri ? `jwks_uri ${issuer.jwks_uri}` : `discovery_url ${issuer.discovery_url}`;
    lines.push(`identity.jwt issuer ${issuer.name} keys: ${from}  (file)`);
  }
  return lines;
}

/** `redis://user:secret@host` → `redis://user:***@host`: settings output must never show a password. */
export function withoutUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}
