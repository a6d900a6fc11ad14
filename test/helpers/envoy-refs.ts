// Cross-reference checks on a schema-valid Envoy bootstrap: the things the proto alone cannot
// catch and that decide whether modelgate works behind it (clusters, HTTP/2, ports, routes, logs).

/** modelgate's default gRPC port (Check). */
export const MODELGATE_GRPC_PORT = 9191;
/** modelgate's audit receiver (AccessLogService, audit.receiver.listen): never the Check port. */
export const MODELGATE_AUDIT_PORT = 9194;
export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
export const TRUST_DOMAIN_PREFIX = 'spiffe://modelgate.local/';

/** The JSON access-log entry the audit ingester parses: exactly these keys and operators. */
export const AUDIT_LOG_FORMAT: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  request_id: '%REQ(X-REQUEST-ID)%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(:PATH)%',
  authority: '%REQ(:AUTHORITY)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  duration_ms: '%DURATION%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  upstream_host: '%UPSTREAM_HOST%',
  downstream_peer_uri_san: '%DOWNSTREAM_PEER_URI_SAN%',
  downstream_peer_dns_san: '%DOWNSTREAM_PEER_DNS_SAN%',
  downstream_peer_subject: '%DOWNSTREAM_PEER_SUBJECT%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  ext_authz: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz)%',
  ext_proc: '%DYNAMIC_METADATA(envoy.filters.http.ext_proc)%',
};

const T = {
  hcm: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  extAuthz: 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  router: 'envoy.extensions.filters.http.router.v3.Router',
  tls: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  fileLog: 'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  grpcLog: 'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  httpOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

// The YAML is schema-checked before these run, so loose access is safe here.
type Node = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const typeOf = (typed: Node | undefined): string => String(typed?.['@type'] ?? '').replace(/^.*\//, '');

export interface ClusterEndpoint {
  readonly cluster: string;
  readonly address: string;
  readonly port: number;
}

export function clusterEndpoints(doc: Node): ClusterEndpoint[] {
  return list(doc.static_resources?.clusters).flatMap((c) =>
    list(c.load_assignment?.endpoints).flatMap((e) =>
      list(e.lb_endpoints).map((lb) => ({
        cluster: String(c.name),
        address: String(lb.endpoint?.address?.socket_address?.address),
        port: Number(lb.endpoint?.address?.socket_address?.port_value),
      })),
    ),
  );
}

/** Every cluster name a route, gRPC service or HTTP URI refers to, with where. */
function clusterRefs(node: unknown, where: string, out: Array<[string, string]>): void {
  if (Array.isArray(node)) return node.forEach((item, i) => clusterRefs(item, `${where}[${i}]`, out));
  if (typeof node !== 'object' || node === null) return;
  const obj = node as Node;
  if (typeof obj.envoy_grpc?.cluster_name === 'string') out.push([obj.envoy_grpc.cluster_name, `${where}.envoy_grpc`]);
  if (typeof obj.route?.cluster === 'string') out.push([obj.route.cluster, `${where}.route`]);
  for (const wc of list(obj.route?.weighted_clusters?.clusters)) out.push([String(wc.name), `${where}.route.weighted_clusters`]);
  if (typeof obj.server_uri?.cluster === 'string') out.push([obj.server_uri.cluster, `${where}.server_uri`]);
  for (const [key, value] of Object.entries(obj)) clusterRefs(value, where ? `${where}.${key}` : key, out);
}

export interface RefOptions {
  /** Listeners must demand a client certificate from the SPIFFE trust domain. */
  readonly requireMtls: boolean;
}

/** Every broken cross-reference in the bootstrap, as readable sentences; empty when sound. */
export function crossReferenceProblems(doc: Node, options: RefOptions): string[] {
  const problems: string[] = [];
  const clusters = new Map<string, Node>(list(doc.static_resources?.clusters).map((c) => [String(c.name), c]));
  for (const [name, cluster] of clusters) {
    const assigned = cluster.load_assignment?.cluster_name;
    if (assigned !== name) problems.push(`cluster ${name}: load_assignment.cluster_name is ${String(assigned)}`);
  }
  const refs: Array<[string, string]> = [];
  clusterRefs(doc, '', refs);
  for (const [name, where] of refs) {
    if (!clusters.has(name)) problems.push(`${where}: cluster '${name}' does not exist`);
  }
  const toModelgate = (name: string, what: string) => checkModelgateCluster(clusters.get(name), name, what, problems);

  for (const listener of list(doc.static_resources?.listeners)) {
    for (const chain of list(listener.filter_chains)) {
      if (options.requireMtls) checkMtls(chain, `listener ${listener.name}`, problems);
      for (const filter of list(chain.filters)) {
        if (typeOf(filter.typed_config) !== T.hcm) continue;
        checkHcm(filter.typed_config, `listener ${listener.name}`, toModelgate, problems);
      }
    }
  }
  return problems;
}

function checkModelgateCluster(cluster: Node | undefined, name: string, what: string, problems: string[]): void {
  if (!cluster) return; // reported as a missing reference
  const options = cluster.typed_extension_protocol_options?.[T.httpOptions];
  if (typeOf(options) !== T.httpOptions || !options?.explicit_http_config?.http2_protocol_options) {
    problems.push(`cluster ${name} (${what}) is not HTTP/2: gRPC needs explicit_http_config.http2_protocol_options`);
  }
  const ports = clusterEndpoints({ static_resources: { clusters: [cluster] } }).map((e) => e.port);
  const accessLog = what === 'access log';
  const port = accessLog ? MODELGATE_AUDIT_PORT : MODELGATE_GRPC_PORT;
  if (ports.length === 0 || ports.some((p) => p !== port)) {
    problems.push(`cluster ${name} (${what}) targets port(s) ${ports.join(',')}, modelgate serves ${accessLog ? 'its audit receiver' : 'gRPC'} on ${port}`);
  }
  // The access-log stream writes into the audit trail: mTLS, Envoy's client certificate and a check of the receiver's name.
  if (accessLog) {
    const tls = cluster.transport_socket?.typed_config;
    const common = tls?.common_tls_context;
    if (typeOf(tls) !== T.upstreamTls) problems.push(`cluster ${name} (${what}) is not TLS: the audit receiver needs mTLS`);
    else if (list(common?.tls_certificates).length === 0) problems.push(`cluster ${name} (${what}) presents no client certificate`);
    else if (!common?.validation_context?.trusted_ca || list(common.validation_context.match_typed_subject_alt_names).length === 0) {
      problems.push(`cluster ${name} (${what}) does not verify the receiver's certificate (trusted_ca and match_typed_subject_alt_names)`);
    }
  }
}

function checkMtls(chain: Node, where: string, problems: string[]): void {
  const tls = chain.transport_socket?.typed_config;
  if (typeOf(tls) !== T.tls) return void problems.push(`${where}: filter chain does not terminate TLS`);
  if (tls.require_client_certificate !== true) problems.push(`${where}: require_client_certificate is not true`);
  const validation = tls.common_tls_context?.validation_context;
  if (!validation?.trusted_ca) problems.push(`${where}: no trusted_ca for client certificates`);
  const spiffe = list(validation?.match_typed_subject_alt_names).some(
    (m) => m.san_type === 'URI' && String(m.matcher?.prefix ?? '').startsWith(TRUST_DOMAIN_PREFIX),
  );
  if (!spiffe) problems.push(`${where}: no URI SAN matcher for ${TRUST_DOMAIN_PREFIX}`);
}

function checkHcm(hcm: Node, where: string, toModelgate: (name: string, what: string) => void, problems: string[]): void {
  if (hcm.forward_client_cert_details !== 'SANITIZE_SET') problems.push(`${where}: forward_client_cert_details is not SANITIZE_SET`);
  const details = hcm.set_current_client_cert_details ?? {};
  for (const key of ['uri', 'dns', 'subject']) {
    if (details[key] !== true) problems.push(`${where}: set_current_client_cert_details.${key} is not true`);
  }
  checkAccessLogs(list(hcm.access_log), where, toModelgate, problems);

  const filters = list(hcm.http_filters);
  const last = filters[filters.length - 1];
  if (typeOf(last?.typed_config) !== T.router) problems.push(`${where}: the router is not the last HTTP filter`);
  const authz = filters.filter((f) => typeOf(f.typed_config) === T.extAuthz);
  if (authz.length === 0) problems.push(`${where}: no ext_authz filter`);
  for (const filter of authz) {
    const config = filter.typed_config;
    const at = `${where} filter ${filter.name}`;
    const cluster = config.grpc_service?.envoy_grpc?.cluster_name;
    if (typeof cluster !== 'string') problems.push(`${at}: not a gRPC (envoy_grpc) ext_authz`);
    else toModelgate(cluster, 'ext_authz');
    if (config.transport_api_version !== 'V3') problems.push(`${at}: transport_api_version is not V3`);
    if (!config.grpc_service?.timeout) problems.push(`${at}: no explicit grpc_service.timeout (default 200ms)`);
    if (config.failure_mode_allow !== false) problems.push(`${at}: failure_mode_allow must be explicitly false`);
    if (config.include_peer_certificate !== true) problems.push(`${at}: include_peer_certificate is not true`);
  }
  checkRoutes(hcm, filters, authz, where, problems);
}

function checkAccessLogs(logs: Node[], where: string, toModelgate: (name: string, what: string) => void, problems: string[]): void {
  const files = logs.filter((l) => typeOf(l.typed_config) === T.fileLog);
  if (files.length === 0) problems.push(`${where}: no JSON file access log`);
  for (const log of files) {
    const format = log.typed_config.log_format?.json_format ?? {};
    const got = JSON.stringify(Object.entries(format).sort());
    const want = JSON.stringify(Object.entries(AUDIT_LOG_FORMAT).sort());
    if (got !== want) problems.push(`${where}: file access log json_format differs from the audit format: ${got}`);
  }
  const grpc = logs.filter((l) => typeOf(l.typed_config) === T.grpcLog);
  if (grpc.length === 0) problems.push(`${where}: no http_grpc access log to modelgate`);
  for (const log of grpc) {
    const common = log.typed_config.common_config ?? {};
    if (!common.log_name) problems.push(`${where}: http_grpc access log has no log_name`);
    if (common.transport_api_version !== 'V3') problems.push(`${where}: http_grpc access log is not V3`);
    const cluster = common.grpc_service?.envoy_grpc?.cluster_name;
    if (typeof cluster !== 'string') problems.push(`${where}: http_grpc access log is not envoy_grpc`);
    else toModelgate(cluster, 'access log');
  }
}

/** Per-route ext_authz settings as Envoy merges them: virtual host first, the route's keys win. */
interface RouteAuthz {
  disabled: boolean;
  context: Record<string, string>;
  body: boolean;
}

function mergeAuthz(into: RouteAuthz, perRoute: Node | undefined): void {
  if (!perRoute) return;
  if (perRoute.disabled === true) into.disabled = true;
  const settings = perRoute.check_settings;
  if (!settings) return;
  into.disabled = false;
  Object.assign(into.context, settings.context_extensions ?? {});
  if (settings.with_request_body) into.body = true;
  if (settings.disable_request_body_buffering === true) into.body = false;
}

function checkRoutes(hcm: Node, filters: Node[], authz: Node[], where: string, problems: string[]): void {
  const filterNames = new Set(filters.map((f) => String(f.name)));
  for (const vhost of list(hcm.route_config?.virtual_hosts)) {
    const perFilter = (node: Node, at: string) => {
      for (const key of Object.keys(node.typed_per_filter_config ?? {})) {
        if (!filterNames.has(key)) problems.push(`${at}: typed_per_filter_config names no HTTP filter: ${key}`);
      }
    };
    perFilter(vhost, `${where} vhost ${vhost.name}`);
    for (const [i, route] of list(vhost.routes).entries()) {
      const at = `${where} vhost ${vhost.name} route[${i}] ${JSON.stringify(route.match)}`;
      perFilter(route, at);
      for (const filter of authz) {
        const state: RouteAuthz = { disabled: false, context: {}, body: Boolean(filter.typed_config.with_request_body) };
        mergeAuthz(state, vhost.typed_per_filter_config?.[filter.name]);
        mergeAuthz(state, route.typed_per_filter_config?.[filter.name]);
        if (!state.disabled) checkTarget(route, state, at, problems);
      }
    }
  }
}

/** A checked route names model and action, or says where modelgate finds them instead. */
function checkTarget(route: Node, state: RouteAuthz, at: string, problems: string[]): void {
  const targetFrom = route.metadata?.filter_metadata?.modelgate?.target_from;
  if (targetFrom === 'path') return;
  if (targetFrom === 'body') {
    if (!state.context.action) problems.push(`${at}: model from the body, but no context_extensions.action`);
    if (!state.body) problems.push(`${at}: model from the body, but with_request_body is not enabled`);
    return;
  }
  if (targetFrom !== undefined) problems.push(`${at}: unknown modelgate.target_from ${JSON.stringify(targetFrom)}`);
  if (!state.context.model || !state.context.action) {
    problems.push(`${at}: ext_authz is enabled but context_extensions lack model/action (or set metadata modelgate.target_from)`);
  }
}
