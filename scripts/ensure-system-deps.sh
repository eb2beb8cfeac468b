#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: redis-server and redis-cli
# (the test harness starts its own servers on free ports), postgresql (history tests: initdb and
# postgres in temp dirs on free ports, never the system service), the Python client's toolchain
# and the frameworks of its examples (see below), chromium (browser tests through
# playwright-core; no browser download) and prometheus with promtool (dashboards and alert rules
# are evaluated against a real Prometheus; recommends such as node-exporter are not installed), nginx (the
# reverse-proxy example). Run by `npm test` (pretest) and by .ci/run. As root it
# installs with apt-get; otherwise it prints the command and fails.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  need+=(redis-server redis-tools)
fi
# redis-sentinel: the Sentinel failover fault test (test/fault/redis-sentinel.fault.test.ts, F-R4).
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v chromium >/dev/null || need+=(chromium)
# nginx: the TLS reverse-proxy example (deploy/nginx/presence.conf) runs in test/deploy/reverse-proxy.test.ts
# (its system service is not started: see policy-rc.d below).
[ -x /usr/sbin/nginx ] || need+=(nginx)
# postgresql: history tests start their own servers with initdb + postgres from /usr/lib/postgresql/<v>/bin.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
# prometheus and promtool: the dashboard/alert test scrapes a real server and evaluates every query.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then need+=(prometheus); fi
# The Python client (clients/python): Debian's python3 with grpcio, protobuf, PyJWT, pytest and venv
# runs its tests; protoc and grpc_python_plugin generate its stubs (buf.gen.python*.yaml).
if ! /usr/bin/python3 -c 'import grpc, google.protobuf, jwt, pytest, venv, ensurepip' 2>/dev/null; then
  need+=(python3-grpcio python3-protobuf python3-jwt python3-pytest python3-venv)
fi
# The Python examples run inside their frameworks (clients/python/tests/test_frameworks.py):
# Django's test client, FastAPI's TestClient (httpx); uvicorn serves the FastAPI example by hand.
if ! /usr/bin/python3 -c 'import django, fastapi, httpx, uvicorn' 2>/dev/null; then
  need+=(python3-django python3-fastapi python3-httpx python3-uvicorn)
fi
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null || need+=(protobuf-compiler-grpc)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "missing system packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "--- installing ${need[*]}"
# The redis-server package would start a system service on port 6379 through invoke-rc.d; a
# policy-rc.d that answers 101 ("action forbidden") stops that. Nothing relies on such a service.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# prometheus alone without its recommends (node-exporter and friends are not needed); the rest as usual.
rest=()
for p in "${need[@]}"; do [ "$p" = prometheus ] || rest+=("$p"); done
[ ${#rest[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${rest[@]}"
if [ ${#rest[@]} -ne ${#need[@]} ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi
if [ -n "$own_policy" ]; then rm -f "$policy"; trap - EXIT; fi
