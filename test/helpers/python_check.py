"""An independent gRPC client (C-core, Debian's python3-grpcio): sends CheckRequest bytes, prints the response as hex.

Usage: python_check.py ADDRESS [--tls CA CERT KEY] < request-bytes-hex-per-line
Each input line is one serialized CheckRequest in hex; each output line is the status and response hex.
"""
import sys
import grpc

def main() -> None:
    address = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == '--tls':
        ca, cert, key = (open(p, 'rb').read() for p in sys.argv[3:6])
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
        channel = grpc.secure_channel(address, creds, options=[('grpc.ssl_target_name_override', 'localhost')])
    else:
        channel = grpc.insecure_channel(address)
    check = channel.unary_unary('/envoy.service.auth.v3.Authorization/Check')
    health = channel.unary_unary('/grpc.health.v1.Health/Check')
    # HealthCheckRequest{service=""} is the empty message; SERVING is field 1 = 1.
    print('health', health(b'', timeout=5).hex())
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            print('ok', check(bytes.fromhex(line), timeout=5).hex())
        except grpc.RpcError as error:
            print('error', error.code().name)
    channel.close()

main()
