// Envoy configs for the end-to-end rows: one plaintext HTTP listener (h2c and HTTP/1.1) whose only
// route answers with Envoy's own direct_response, so the upstream costs nothing; the rows differ
// only in the HTTP filters in front of it.

const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

export interface EnvoyConfigOptions {
  readonly port: number;
  readonly adminPort: number;
  /** HTTP filters before the router: none for the bare row. */
  readonly filters?: readonly object[];
  /** The ext_authz server's port, when the row has one. */
  readonly authzPort?: number;
}

export function envoyConfig(o: EnvoyConfigOptions): object {
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    static_resources: {
      listeners: [
        {
          name: 'bench',
          address: { socket_address: { address: '127.0.0.1', port_value: o.port } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'bench',
                    codec_type: 'AUTO',
                    http_filters: [...(o.filters ?? []), ROUTER],
                    route_config: {
                      name: 'models',
                      virtual_hosts: [
                        {
                          name: 'models',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: '{"outputs":[0.02]}\n' } } }],
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: o.authzPort === undefined ? [] : [authzCluster(o.authzPort)],
    },
  };
}

/** The gRPC authorization server: HTTP/2 to 127.0.0.1, one connection per Envoy worker. */
function authzCluster(port: number): object {
  return {
    name: 'authz',
    type: 'STATIC',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: 'authz',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

/**
 * ext_authz over gRPC, as envoy/edge.yaml sets it up for modelgate (fail closed), with a 1 s
 * timeout instead of 250 ms: a saturated row should show its latency, not turn into 503s.
 */
export const EXT_AUTHZ = {
  name: 'envoy.filters.http.ext_authz',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    transport_api_version: 'V3',
    grpc_service: { envoy_grpc: { cluster_name: 'authz' }, timeout: '1s' },
    failure_mode_allow: false,
    status_on_error: { code: 'ServiceUnavailable' },
    validate_mutations: true,
  },
};

const roles = (role: string) => ({
  metadata: {
    filter: 'envoy.filters.http.jwt_authn',
    path: [{ key: 'jwt_payload' }, { key: 'roles' }],
    value: { list_match: { one_of: { string_match: { exact: role } } } },
  },
});
const method = (m: string) => ({ header: { name: ':method', string_match: { exact: m } } });
const paths = (regex: string) => ({ url_path: { path: { safe_regex: { regex } } } });
const both = (...rules: object[]) => ({ and_rules: { rules } });
const predict = (models: string) => both(method('POST'), paths(`/v1/models/(${models}):predict`));
const read = (models: string) => both(method('GET'), paths(`/v1/models/(${models})`));

/**
 * Row (f): Envoy's own jwt_authn (same JWKS, issuer, audience; verified tokens cached) and rbac with
 * the bench policy: deny rules in a DENY filter first, then the grants in an ALLOW filter. The train
 * deny has no route here (no target maps to train), so only the debug-header deny is needed.
 */
export function jwtRbacFilters(jwks: string): object[] {
  return [
    {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
        providers: {
          bench: {
            issuer: 'https://issuer.bench',
            audiences: ['modelgate'],
            local_jwks: { inline_string: jwks },
            payload_in_metadata: 'jwt_payload',
            jwt_cache_config: { jwt_cache_size: 1000 },
          },
        },
        rules: [{ match: { prefix: '/' }, requires: { provider_name: 'bench' } }],
      },
    },
    {
      name: 'envoy.filters.http.rbac',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        rules: {
          action: 'DENY',
          policies: {
            'no-debug-header': {
              permissions: [both(paths('/v1/models/fraud-[^/:]*(:predict)?'), { header: { name: 'x-debug', string_match: { exact: '1' } } })],
              principals: [{ any: true }],
            },
          },
        },
      },
    },
    {
      name: 'envoy.filters.http.rbac',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        rules: {
          action: 'ALLOW',
          policies: {
            'admin-all': { permissions: [{ any: true }], principals: [roles('admin')] },
            'ds-use': { permissions: [predict('fraud-detector|churn|chat-[^/:]*'), read('fraud-detector|churn|chat-[^/:]*')], principals: [roles('data_scientist')] },
            'analysts-predict': { permissions: [predict('fraud-detector|churn'), read('fraud-detector|churn')], principals: [roles('analyst')] },
            'viewers-read': { permissions: [read('[^/:]+')], principals: [roles('viewer')] },
          },
        },
      },
    },
  ];
}
