# The bench's modelgate policy (bench/fixtures.ts) in Rego, for OPA-Envoy in `npm run bench:e2e`:
# the same roles → models and actions, the same deny rules, and the same JWT checks (signature
# against the same JWKS, issuer, audience, expiry). The JWKS arrives as data (data.bench.jwks),
# written by bench/peers/opa.ts from the keys the run generates; nothing secret is checked in.
#
# Envoy's ext_authz plugin asks for data.modelgate.authz.allow; false means 403.
package modelgate.authz

default allow := false

allow if {
	granted
	not denied
}

# The bearer token, only with the "Bearer " scheme (as modelgate's jwt source).
bearer := substring(auth, 7, -1) if {
	auth := input.attributes.request.http.headers.authorization
	startswith(auth, "Bearer ")
}

# The verified claims. decode_verify checks signature, alg, iss, aud, exp and nbf; its result is
# cached per token by OPA's inter-query cache (caches.inter_query_builtin_value_cache.named.io_jwt),
# as modelgate caches a verified token.
claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(bearer, {
		"cert": data.bench.jwks,
		"iss": "https://issuer.bench",
		"aud": "modelgate",
	})
	valid
}

# policy.targets.paths: POST /v1/models/{model}:predict → predict; GET /v1/models/{model} → read.
target := {"model": trim_suffix(segment, ":predict"), "action": "predict"} if {
	input.attributes.request.http.method == "POST"
	["v1", "models", segment] = input.parsed_path
	endswith(segment, ":predict")
}

target := {"model": segment, "action": "read"} if {
	input.attributes.request.http.method == "GET"
	["v1", "models", segment] = input.parsed_path
	not contains(segment, ":")
}

# policy.rules, the allow half: role → models and actions ("*" and "chat-*" are globs).
grants := [
	{"id": "admin-all", "roles": {"admin"}, "models": {"*"}, "actions": {"*"}},
	{"id": "ds-use", "roles": {"data_scientist"}, "models": {"fraud-detector", "churn", "chat-*"}, "actions": {"predict", "evaluate", "read", "train"}},
	{"id": "analysts-predict", "roles": {"analyst"}, "models": {"fraud-detector", "churn"}, "actions": {"predict", "read"}},
	{"id": "viewers-read", "roles": {"viewer"}, "models": {"*"}, "actions": {"read"}},
]

granted if {
	some grant in grants
	some role in claims.roles
	role in grant.roles
	matches(grant.models, target.model)
	matches(grant.actions, target.action)
}

matches(patterns, value) if {
	some pattern in patterns
	glob.match(pattern, [], value)
}

# policy.rules, the deny half: a deny wins over any grant.
# train-only-ml-platform
denied if {
	target.action == "train"
	not claims.org == "ml-platform"
}

# no-debug-header
denied if {
	glob.match("fraud-*", [], target.model)
	input.attributes.request.http.headers["x-debug"] == "1"
}
