#!/usr/bin/env bash
# Runs the Python client's pytest suite (clients/python/tests) against real servers it starts.
# Uses Debian's python3 (/usr/bin/python3, with python3-grpcio, python3-protobuf, python3-jwt and
# python3-pytest), not whatever python3 comes first on PATH; PYTHON overrides it.
set -euo pipefail
cd "$(dirname "$0")/../clients/python"
PY="${PYTHON:-/usr/bin/python3}"
if ! "$PY" -c 'import grpc, google.protobuf, jwt, pytest, django, fastapi, httpx' 2>/dev/null; then
  echo "$PY lacks grpcio, protobuf, PyJWT, pytest, Django, FastAPI or httpx: run scripts/ensure-system-deps.sh (Debian packages python3-grpcio python3-protobuf python3-jwt python3-pytest python3-django python3-fastapi python3-httpx), or set PYTHON" >&2
  exit 1
fi
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
