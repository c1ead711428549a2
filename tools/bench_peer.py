#!/usr/bin/env python3
"""A peer for tools/bench.py: scim2-server (in memory) served by Waitress.

    python tools/bench_peer.py --port 8081 [--threads 8] [--token TOKEN]

scim2-server's own `scim2-server` command serves with wsgiref's
thread-per-request server; the benchmark runs every contender on Waitress
with the same thread count, so this builds the same WSGI application as
that command (scim2_server/testserver/cli.py: the RFC 7643 schemas and
resource types, its default service provider configuration, a bearer
token) and hands it to Waitress.  The store lives in memory and is lost
when the process ends: seed it over HTTP.  Its routes are under /v2.
"""
import argparse
import logging
import secrets

import waitress
from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config


def build_app(token):
    """What `scim2-server --bearer-token TOKEN` serves."""
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []),
                                     BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(),
                                           load_default_resource_types().values(),
                                           config=config)
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(InMemoryStorage(), provider, service=service,
                                  bearer_tokens=[token] if token else [])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--token", default="", help="bearer token (none: accept all)")
    args = parser.parse_args(argv)
    # Client errors are logged at INFO, one line per refused request: keep them quiet.
    logging.basicConfig(level=logging.WARNING)
    waitress.serve(build_app(args.token), host="127.0.0.1", port=args.port,
                   threads=args.threads, ident="scim2-server")


if __name__ == "__main__":
    main()
