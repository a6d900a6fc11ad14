#!/usr/bin/env bash
# Generates a throwaway dev CA, the Envoy edge server certificate, SPIFFE client certificates and
# the audit trail's dev keys for docker-compose. Never use these outside a laptop: the CA key sits
# next to the certs.
#
#   scripts/dev-certs.sh [OUT_DIR]      default OUT_DIR: .envoy-dev/certs (git-ignored)
#   FORCE=1 scripts/dev-certs.sh        regenerate even if a CA already exists
#
# Produces in OUT_DIR:
#   ca.crt ca.key                  dev CA (trusted_ca of envoy/edge.yaml)
#   envoy.crt envoy.key            edge server cert, DNS:localhost, DNS:envoy, IP:127.0.0.1
#   batch-scorer.crt/.key          URI spiffe://modelgate.local/ns/ml/sa/batch-scorer  (allowed by policy)
#   frontend.crt/.key              URI spiffe://modelgate.local/ns/web/sa/frontend     (denied by policy)
#   outsider.crt/.key              URI spiffe://elsewhere.example/ns/x/sa/y  (rejected in the TLS handshake)
#   modelgate-server.crt/.key      modelgate's server cert for the Check port (9191) and the audit
#                                  receiver (9194): DNS:modelgate, DNS:localhost, IP:127.0.0.1
#   proxy-ca.crt proxy-ca.key      dev proxy CA: signs only envoy-client (modelgate's client_ca_file)
#   envoy-client.crt/.key          Envoy's client cert towards both: URI spiffe://modelgate.local/ns/edge/sa/envoy,
#                                  signed by the proxy CA (audit.receiver.tls.allowed_sans lists it)
#   audit-signing.key/.pub         Ed25519 pair that signs the audit trail's checkpoints (PKCS#8 / SPKI PEM)
#   audit-hash.key                 HMAC key for the audit trail's hashed fields (client address)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/.envoy-dev/certs}"
DAYS="${DEV_CERT_DAYS:-30}"

command -v openssl >/dev/null || { echo "dev-certs: openssl is required" >&2; exit 1; }
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if [[ -f "$OUT/ca.crt" && "${FORCE:-0}" != "1" ]]; then
  echo "dev-certs: $OUT/ca.crt exists; FORCE=1 to regenerate"
  exit 0
fi

umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# CA: only signs certificates.
new_key "$OUT/ca.key"
cat >"$WORK/ca.ext" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
O = modelgate dev
CN = modelgate dev CA
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days "$DAYS" \
  -config "$WORK/ca.ext" -extensions v3_ca -out "$OUT/ca.crt"

# The proxy CA signs only the proxies' client certificates (envoy-client): it is what modelgate's
# Check port and audit receiver trust, so a workload's certificate from the dev CA opens neither.
new_key "$OUT/proxy-ca.key"
sed 's/CN = modelgate dev CA/CN = modelgate dev proxy CA/' "$WORK/ca.ext" >"$WORK/proxy-ca.ext"
openssl req -x509 -new -key "$OUT/proxy-ca.key" -sha256 -days "$DAYS" \
  -config "$WORK/proxy-ca.ext" -extensions v3_ca -out "$OUT/proxy-ca.crt"

# issue NAME CN SAN EKU [CA]: a leaf certificate signed by the dev CA (or the named one).
issue() {
  local name="$1" cn="$2" san="$3" eku="$4" ca="${5:-ca}"
  new_key "$OUT/$name.key"
  cat >"$WORK/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
  openssl req -new -key "$OUT/$name.key" -subj "/O=modelgate dev/CN=$cn" -out "$WORK/$name.csr"
  openssl x509 -req -in "$WORK/$name.csr" -CA "$OUT/$ca.crt" -CAkey "$OUT/$ca.key" -CAcreateserial \
    -CAserial "$WORK/$ca.srl" -sha256 -days "$DAYS" -extfile "$WORK/$name.ext" -out "$OUT/$name.crt" 2>/dev/null
}

issue envoy envoy "DNS:localhost, DNS:envoy, IP:127.0.0.1" serverAuth
issue batch-scorer batch-scorer "URI:spiffe://modelgate.local/ns/ml/sa/batch-scorer" clientAuth
issue frontend frontend "URI:spiffe://modelgate.local/ns/web/sa/frontend" clientAuth
issue outsider outsider "URI:spiffe://elsewhere.example/ns/x/sa/y" clientAuth
# The Envoy -> modelgate hops (Check and access log) are mTLS in compose: modelgate admits only
# certificates from this CA (and the audit receiver only the identity in allowed_sans), and Envoy
# checks that the server is named modelgate.
issue modelgate-server modelgate "DNS:modelgate, DNS:localhost, IP:127.0.0.1" serverAuth
issue envoy-client envoy-client "URI:spiffe://modelgate.local/ns/edge/sa/envoy" clientAuth proxy-ca

# The audit trail's dev keys (envoy/compose/modelgate.yaml mounts them).
openssl genpkey -algorithm ed25519 -out "$OUT/audit-signing.key" 2>/dev/null
openssl pkey -in "$OUT/audit-signing.key" -pubout -out "$OUT/audit-signing.pub"
openssl rand -hex 32 >"$OUT/audit-hash.key"

# Certificates are public. Envoy runs as uid 101 inside its image and must read its own key from
# the bind mount, and modelgate as uid 1000 its audit keys, so those keys are world-readable;
# fine for a git-ignored dev folder only.
chmod 644 "$OUT"/*.crt "$OUT/envoy.key" "$OUT/envoy-client.key" "$OUT/modelgate-server.key" "$OUT"/audit-*
chmod 600 "$OUT/ca.key" "$OUT/proxy-ca.key" "$OUT/batch-scorer.key" "$OUT/frontend.key" "$OUT/outsider.key"
chmod 755 "$OUT"

echo "dev-certs: wrote CA, envoy and client certificates and audit dev keys to $OUT"
