// Tracing settings from the standard OpenTelemetry environment variables. Off unless asked for:
// `OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint set while OTEL_TRACES_EXPORTER is unset.
// A value modelgate cannot honour is a start-up error naming the variable, never a silent default.
// Imported statically by main.ts, so it imports nothing: the SDK loads only when tracing is on.

export type OtlpProtocol = 'http/protobuf' | 'grpc';

export type SamplerSetting =
  | { readonly kind: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { readonly kind: 'traceidratio' | 'parentbased_traceidratio'; readonly ratio: number };

export interface TracingSettings {
  readonly protocol: OtlpProtocol;
  /** The full URL spans are sent to (`…/v1/traces` for HTTP, `http(s)://host:port` for gRPC). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'gzip' | 'none';
  readonly sampler: SamplerSetting;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  /** BatchSpanProcessor: how often and how many spans are sent, and how many may wait. */
  readonly batch: { readonly scheduledDelayMs: number; readonly maxExportBatchSize: number; readonly maxQueueSize: number };
  /** When set, the subject attribute is an HMAC-SHA256 under this key instead of a plain SHA-256. */
  readonly subjectHashKey?: string;
}

export type TracingSettingsResult = { ok: true; settings: TracingSettings | undefined } | { ok: false; problems: string[] };

type Env = Readonly<Record<string, string | undefined>>;

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

export function tracingSettings(env: Env): TracingSettingsResult {
  const problems: string[] = [];
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return { ok: true, settings: undefined };
  const exporter = value('OTEL_TRACES_EXPORTER')?.toLowerCase();
  const endpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (exporter === undefined ? endpoint === undefined && baseEndpoint === undefined : exporter === 'none') {
    return { ok: true, settings: undefined };
  }
  if (exporter !== undefined && exporter !== 'otlp') {
    problems.push(`OTEL_TRACES_EXPORTER: '${exporter}' is not supported (modelgate exports 'otlp', or 'none')`);
  }

  const protocolText = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  const protocol = protocolText === 'grpc' || protocolText === 'http/protobuf' ? protocolText : undefined;
  if (!protocol) problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL: '${protocolText}' is not supported (use 'http/protobuf' or 'grpc')`);

  const url = endpointUrl(endpoint, baseEndpoint, protocol ?? 'http/protobuf', problems);
  const headersName = value('OTEL_EXPORTER_OTLP_TRACES_HEADERS') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_HEADERS' : 'OTEL_EXPORTER_OTLP_HEADERS';
  const headers = keyValues(headersName, value(headersName), problems);
  const resourceAttributes = keyValues('OTEL_RESOURCE_ATTRIBUTES', value('OTEL_RESOURCE_ATTRIBUTES'), problems);
  const timeoutMs = integer('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', value('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? value('OTEL_EXPORTER_OTLP_TIMEOUT'), 10_000, problems);
  const compressionText = value('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ?? value('OTEL_EXPORTER_OTLP_COMPRESSION') ?? 'none';
  if (compressionText !== 'gzip' && compressionText !== 'none') problems.push(`OTEL_EXPORTER_OTLP_COMPRESSION: '${compressionText}' is not supported (use 'gzip' or 'none')`);

  const sampler = samplerFrom(value('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on', value('OTEL_TRACES_SAMPLER_ARG'), problems);
  const batch = {
    scheduledDelayMs: integer('OTEL_BSP_SCHEDULE_DELAY', value('OTEL_BSP_SCHEDULE_DELAY'), 5_000, problems),
    maxExportBatchSize: integer('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', value('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), 512, problems, 1),
    maxQueueSize: integer('OTEL_BSP_MAX_QUEUE_SIZE', value('OTEL_BSP_MAX_QUEUE_SIZE'), 2_048, problems, 1),
  };
  if (problems.length > 0 || !protocol || !sampler) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      protocol,
      url,
      headers,
      timeoutMs,
      compression: compressionText as 'gzip' | 'none',
      sampler,
      // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES, as the spec says.
      serviceName: value('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'modelgate',
      resourceAttributes,
      batch,
      subjectHashKey: value('MODELGATE_TRACE_SUBJECT_HASH_KEY'),
    },
  };
}

/** The spec's defaults: localhost:4318 + `/v1/traces` for HTTP (appended to the base endpoint only), localhost:4317 for gRPC. */
function endpointUrl(traces: string | undefined, base: string | undefined, protocol: OtlpProtocol, problems: string[]): string {
  const name = traces !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let url: string;
  if (traces !== undefined) url = traces;
  else if (protocol === 'grpc') url = base ?? 'http://localhost:4317';
  else url = `${(base ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    problems.push(`${name}: '${url}' is not an http:// or https:// URL`);
  }
  return url;
}

/** W3C baggage-style `key=value,key2=value2`, values percent-decoded (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
function keyValues(name: string, text: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    try {
      if (!key) throw new Error('no key');
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // The pair itself may be a credential (an Authorization header): name its position, never echo it.
      problems.push(`${name}: entry ${Object.keys(out).length + 1} is not key=value (percent-encoded)`);
    }
  }
  return out;
}

function integer(name: string, text: string | undefined, fallback: number, problems: string[], min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (Number.isInteger(n) && n >= min) return n;
  problems.push(`${name}: expected a whole number >= ${min}, got '${text}'`);
  return fallback;
}

function samplerFrom(kind: string, arg: string | undefined, problems: string[]): SamplerSetting | undefined {
  const name = kind.toLowerCase();
  if (!SAMPLERS.includes(name)) {
    problems.push(`OTEL_TRACES_SAMPLER: '${kind}' is not supported (one of ${SAMPLERS.join(', ')})`);
    return undefined;
  }
  if (name !== 'traceidratio' && name !== 'parentbased_traceidratio') return { kind: name as 'always_on' };
  const ratio = arg === undefined ? 1 : Number(arg);
  if (!(ratio >= 0 && ratio <= 1)) {
    problems.push(`OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got '${arg}'`);
    return undefined;
  }
  return { kind: name, ratio };
}
