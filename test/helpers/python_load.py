"""A concurrent load client on gRPC C-core (Debian's python3-grpcio): keeps N Checks in flight.

Usage: python_load.py --in-flight N [--seconds S] [--gap-ms G] ADDRESS [ADDRESS...] < request-hex-per-line
Sends every input line once, round-robin over the addresses (one channel each); with --seconds it
cycles through the lines until that many seconds have passed. --gap-ms makes each slot wait that
long after its answer before sending again (a steady load that does not saturate the machine).
Prints "start" once every channel is connected, then at the end one line per request:
    index address-index sent-ns answered-ns ok|error response-hex|status-name
Times are CLOCK_MONOTONIC nanoseconds (time.monotonic_ns), the clock Node's process.hrtime uses.
"""
import argparse
import queue
import sys
import threading
import time
import grpc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--in-flight', type=int, required=True)
    parser.add_argument('--seconds', type=float, default=0)
    parser.add_argument('--gap-ms', type=float, default=0)
    parser.add_argument('addresses', nargs='+')
    args = parser.parse_args()
    requests = [bytes.fromhex(line.strip()) for line in sys.stdin if line.strip()]
    channels = [grpc.insecure_channel(a) for a in args.addresses]
    for channel in channels:
        grpc.channel_ready_future(channel).result(timeout=10)
    checks = [c.unary_unary('/envoy.service.auth.v3.Authorization/Check') for c in channels]
    print('start', flush=True)

    # Each free slot is the monotonic time from which it may send again.
    slots = queue.SimpleQueue()
    for _ in range(args.in_flight):
        slots.put(0.0)
    lock = threading.Lock()
    results = []
    done_all = threading.Event()
    pending = [0]
    sending = [True]

    def on_done(index, target, sent, future):
        answered = time.monotonic_ns()
        try:
            line = f'{index} {target} {sent} {answered} ok {future.result().hex()}'
        except grpc.RpcError as error:
            line = f'{index} {target} {sent} {answered} error {error.code().name}'
        with lock:
            results.append(line)
            pending[0] -= 1
            if not sending[0] and pending[0] == 0:
                done_all.set()
        slots.put(time.monotonic() + args.gap_ms / 1000)

    until = time.monotonic() + args.seconds
    index = 0
    while index < len(requests) or (args.seconds > 0 and time.monotonic() < until):
        wait = slots.get() - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if args.seconds > 0 and time.monotonic() >= until:
            break
        target = index % len(checks)
        with lock:
            pending[0] += 1
        sent = time.monotonic_ns()
        future = checks[target].future(requests[index % len(requests)], timeout=10)
        future.add_done_callback(lambda f, i=index, t=target, s=sent: on_done(i, t, s, f))
        index += 1
    with lock:
        sending[0] = False
        if pending[0] == 0:
            done_all.set()
    done_all.wait(timeout=30)
    with lock:
        sys.stdout.write('\n'.join(sorted(results, key=lambda l: int(l.split(' ', 1)[0]))) + '\n')
    sys.stdout.flush()
    for channel in channels:
        channel.close()


main()
