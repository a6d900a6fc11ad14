// Every envoy/*.yaml decodes as Envoy's Bootstrap (strictly) and its cross-references hold;
// bad configs written at test time prove the checks actually fail.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decodeBootstrapFile, envoySchema } from '../../helpers/envoy-schema.js';
import { AUDIT_LOG_FORMAT, crossReferenceProblems } from '../../helpers/envoy-refs.js';

const ENVOY_DIR = path.resolve(import.meta.dirname, '../../../envoy');
const files = readdirSync(ENVOY_DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const schema = envoySchema();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = Record<string, any>;
const edgeFile = path.join(ENVOY_DIR, 'edge.yaml');
const fresh = (): Node => structuredClone(decodeBootstrapFile(edgeFile, schema).doc) as Node;
const hcmOf = (doc: Node): Node => doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
// Indexed as `any`: a missing route should fail the assertion, not the type check.
const routesOf = (doc: Node): Node => hcmOf(doc).route_config.virtual_hosts[0].routes;
const authzOf = (doc: Node): Node => hcmOf(doc).http_filters[0].typed_config;

describe('envoy configs decode as envoy.config.bootstrap.v3.Bootstrap', () => {
  it('has the edge and the sidecar config', () => {
    expect(files).toEqual(expect.arrayContaining(['edge.yaml', 'sidecar.yaml']));
  });

  it.each(files)('%s: no unknown field, unknown @type or wrong value', (file) => {
    expect(decodeBootstrapFile(path.join(ENVOY_DIR, file), schema).problems).toEqual([]);
  });

  it.each(files)('%s: clusters, HTTP/2, ports, mTLS, routes and access logs line up', (file) => {
    const { doc } = decodeBootstrapFile(path.join(ENVOY_DIR, file), schema);
    expect(crossReferenceProblems(doc, { requireMtls: true })).toEqual([]);
  });

  it('edge: demands a client certificate on every filter chain', () => {
    for (const chain of fresh().static_resources.listeners.flatMap((l: Node) => l.filter_chains)) {
      expect(chain.transport_socket.typed_config.require_client_certificate).toBe(true);
    }
  });

  it('edge: the access log carries the ext_authz metadata namespace modelgate writes', () => {
    const file = hcmOf(fresh()).access_log.find((l: Node) => l.name === 'envoy.access_loggers.file');
    expect(file.typed_config.log_format.json_format.ext_authz).toBe(AUDIT_LOG_FORMAT['ext_authz']);
  });
});

describe('the schema checker rejects bad configs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-envoy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes a mutated edge config to disk and decodes it like a committed file. */
  function problemsAfter(name: string, mutate: (doc: Node) => void): string[] {
    const doc = fresh();
    mutate(doc);
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(doc));
    return decodeBootstrapFile(file, schema).problems.map((p) => `${p.path}: ${p.message}`);
  }

  it('a misspelled field', () => {
    const problems = problemsAfter('misspelled', (doc) => {
      const cluster = doc.static_resources.clusters[0];
      cluster.conect_timeout = cluster.connect_timeout;
      delete cluster.connect_timeout;
    });
    expect(problems).toEqual([
      "static_resources.clusters[0].conect_timeout: unknown field 'conect_timeout' in envoy.config.cluster.v3.Cluster",
    ]);
  });

  it('a misspelled field inside a typed_config', () => {
    const problems = problemsAfter('misspelled-any', (doc) => {
      authzOf(doc).failure_mode_alow = false;
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/failure_mode_alow: unknown field 'failure_mode_alow' in envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz$/);
  });

  it('an unknown @type', () => {
    const problems = problemsAfter('unknown-type', (doc) => {
      authzOf(doc)['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthZ';
    });
    expect(problems).toEqual([
      expect.stringMatching(/http_filters\[0\]\.typed_config\.@type: unknown type envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthZ$/),
    ]);
  });

  it('a string where a number belongs', () => {
    const problems = problemsAfter('string-for-number', (doc) => {
      doc.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 'nine-one-nine-one';
    });
    expect(problems).toEqual([expect.stringMatching(/port_value: 'port_value': expected uint32, got string "nine-one-nine-one"$/)]);
  });

  it('a quoted number for a 32-bit integer', () => {
    const problems = problemsAfter('quoted-number', (doc) => {
      routesOf(doc)[5].typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.with_request_body.max_request_bytes = '262144';
    });
    expect(problems).toEqual([expect.stringMatching(/max_request_bytes: 'max_request_bytes': expected uint32/)]);
  });

  it('a number where a Duration string belongs, an unknown enum name, a wrong list', () => {
    const problems = problemsAfter('kinds', (doc) => {
      authzOf(doc).grpc_service.timeout = 0.25;
      authzOf(doc).transport_api_version = 'v3';
      hcmOf(doc).http_filters[0].typed_config.metadata_context_namespaces = 'envoy.filters.http.jwt_authn';
    });
    expect(problems).toEqual([
      expect.stringMatching(/transport_api_version: expected a envoy\.config\.core\.v3\.ApiVersion name \(AUTO\|V2\|V3\), got "v3"$/),
      expect.stringMatching(/grpc_service\.timeout: expected a Duration string like "0\.25s", got number 0\.25$/),
      expect.stringMatching(/metadata_context_namespaces: expected a list for repeated 'metadata_context_namespaces', got string$/),
    ]);
  });

  it('two members of a oneof, a deprecated field, a missing required field', () => {
    const problems = problemsAfter('oneof', (doc) => {
      routesOf(doc)[0].typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings = { context_extensions: { model: 'x' } };
      const validation = doc.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.validation_context;
      validation.match_subject_alt_names = [{ prefix: 'spiffe://modelgate.local/' }];
      delete doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[1].typed_config.common_config.grpc_service;
    });
    expect(problems).toEqual([
      expect.stringMatching(/validation_context\.match_subject_alt_names: field 'match_subject_alt_names' is deprecated/),
      expect.stringMatching(/common_config\.grpc_service: required field 'grpc_service' of .*CommonGrpcAccessLogConfig is missing$/),
      expect.stringMatching(/routes\[0\]\.typed_per_filter_config\["envoy\.filters\.http\.ext_authz"\]\.check_settings: oneof 'override' has both 'disabled' and 'check_settings'$/),
    ]);
  });

  it('a camelCase json_name is accepted, the same field twice is not', () => {
    expect(problemsAfter('camel', (doc) => {
      const cluster = doc.static_resources.clusters[0];
      cluster.connectTimeout = cluster.connect_timeout;
      delete cluster.connect_timeout;
    })).toEqual([]);
    expect(problemsAfter('twice', (doc) => {
      doc.static_resources.clusters[0].connectTimeout = '1s';
    })).toEqual([expect.stringMatching(/connectTimeout: field 'connect_timeout' set twice/)]);
  });
});

describe('the cross-reference checks reject broken wiring', () => {
  const problemsAfter = (mutate: (doc: Node) => void): string[] => {
    const doc = fresh();
    mutate(doc);
    return crossReferenceProblems(doc, { requireMtls: true });
  };

  it('a route to a cluster that does not exist', () => {
    expect(problemsAfter((doc) => (routesOf(doc)[2].route.cluster = 'model_servr'))).toEqual([
      expect.stringMatching(/route: cluster 'model_servr' does not exist$/),
    ]);
  });

  it('an ext_authz cluster without HTTP/2 or on the wrong port', () => {
    const problems = problemsAfter((doc) => {
      const cluster = doc.static_resources.clusters[0];
      delete cluster.typed_extension_protocol_options;
      cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 9192;
    });
    expect(problems).toEqual([
      'cluster modelgate (ext_authz) is not HTTP/2: gRPC needs explicit_http_config.http2_protocol_options',
      'cluster modelgate (ext_authz) targets port(s) 9192, modelgate serves gRPC on 9191',
    ]);
  });

  it('an access-log cluster back on the Check port, or without mTLS to the audit receiver', () => {
    const accessLogCluster = (doc: Node) => doc.static_resources.clusters.find((c: Node) => c.name === 'modelgate_accesslog');
    expect(problemsAfter((doc) => {
      const cluster = accessLogCluster(doc);
      cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 9191;
      delete cluster.transport_socket;
    })).toEqual([
      'cluster modelgate_accesslog (access log) targets port(s) 9191, modelgate serves its audit receiver on 9194',
      'cluster modelgate_accesslog (access log) is not TLS: the audit receiver needs mTLS',
    ]);
    expect(problemsAfter((doc) => delete accessLogCluster(doc).transport_socket.typed_config.common_tls_context.tls_certificates)).toEqual([
      'cluster modelgate_accesslog (access log) presents no client certificate',
    ]);
  });

  it('a checked route that names no model, and a fail-open filter', () => {
    const problems = problemsAfter((doc) => {
      delete routesOf(doc)[4].typed_per_filter_config;
      authzOf(doc).failure_mode_allow = true;
    });
    expect(problems).toEqual([
      expect.stringMatching(/filter envoy\.filters\.http\.ext_authz: failure_mode_allow must be explicitly false$/),
      expect.stringMatching(/route\[4\] .*churn:predict.*context_extensions lack model\/action/),
    ]);
  });

  it('a body-derived model without the body', () => {
    const problems = problemsAfter((doc) => {
      delete routesOf(doc)[5].typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.with_request_body;
    });
    expect(problems).toEqual([expect.stringMatching(/chat\/completions.*with_request_body is not enabled$/)]);
  });

  it('no client certificate required, a forwarded XFCC, an access-log key missing', () => {
    const problems = problemsAfter((doc) => {
      doc.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.require_client_certificate = false;
      hcmOf(doc).forward_client_cert_details = 'APPEND_FORWARD';
      delete hcmOf(doc).access_log[0].typed_config.log_format.json_format.ext_authz;
    });
    expect(problems).toEqual([
      'listener edge_https: require_client_certificate is not true',
      'listener edge_https: forward_client_cert_details is not SANITIZE_SET',
      expect.stringMatching(/^listener edge_https: file access log json_format differs from the audit format/),
    ]);
  });
});
