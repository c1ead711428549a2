#!/usr/bin/env python3
"""Slow clients against a running scimlite: N connections that send a
request head a byte at a time, then how many ordinary requests still get
an answer.  Figures, not assertions (tests/test_e2e.py asserts a small run).

    python tools/slowloris.py http://127.0.0.1:8080 --slow 200 --seconds 40
"""
import argparse
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

HEAD = b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000 + b"\r\n\r\n"


def drip(host, port, source, stop, interval, counts):
    """One slow client: reconnects whenever the server closes it."""
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=5,
                                            source_address=(source, 0))
            counts["opened"] += 1
            for byte in HEAD:
                if stop.wait(interval):
                    break
                sock.send(bytes([byte]))
        except OSError:
            counts["closed by server"] += 1
            stop.wait(interval)
        finally:
            try:
                sock.close()
            except (OSError, UnboundLocalError):
                pass


def ordinary(url, timeout):
    started = time.monotonic()
    try:
        urllib.request.urlopen(url + "/healthz", timeout=timeout).read()
        return time.monotonic() - started
    except (urllib.error.URLError, OSError):
        return None


def attack(url, slow=200, seconds=20.0, interval=0.5, probes=6, source="127.0.0.2"):
    """(probes answered, their seconds, counts) while `slow` clients drip."""
    parts = urlsplit(url)
    stop, counts = threading.Event(), {"opened": 0, "closed by server": 0}
    threads = [threading.Thread(target=drip, args=(parts.hostname, parts.port, source, stop,
                                                   interval, counts), daemon=True)
               for _ in range(slow)]
    for thread in threads:
        thread.start()
    time.sleep(min(3.0, seconds / 3))       # let them take their connections
    answered = []
    deadline = time.monotonic() + seconds
    for _ in range(probes):
        took = ordinary(url, timeout=max(1.0, deadline - time.monotonic()))
        if took is not None:
            answered.append(took)
    stop.set()
    return answered, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--probes", type=int, default=6)
    parser.add_argument("--source", default="127.0.0.2",
                        help="address the slow clients come from (loopback alias)")
    args = parser.parse_args()
    answered, counts = attack(args.url, args.slow, args.seconds, probes=args.probes,
                              source=args.source)
    print(f"{args.slow} slow clients from {args.source}: {len(answered)} of {args.probes} "
          f"ordinary requests answered"
          + (f", slowest in {max(answered):.2f} s" if answered else "")
          + f"; slow connections opened {counts['opened']}")


if __name__ == "__main__":
    main()
