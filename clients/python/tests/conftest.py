"""Test harness: a real presence server started as a child process (the repository's built
server, `node dist/main.js` as users run it (`npm run build`; `npm test` builds it before vitest),
or PRESENCE_SERVER_CMD) on free loopback ports, with a test JWT secret
and short timings. `server` is shared by a module's tests; `fresh_server` is a function-scoped one
that a test may restart on the same port or kill -9. Every child is killed by its pid."""

from __future__ import annotations

import os
import random
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Dict, Optional

import pytest

from presence_client import PresenceClient, admin_token, service_token, user_token

REPO = Path(__file__).resolve().parents[3]
SECRET = "python-client-tests-secret-0123456789abcdef"
_handed_out = set()


def free_port() -> int:
    """A loopback port free now, below the ephemeral range (as the TypeScript harness picks them)."""
    for _ in range(200):
        port = random.randint(20_000, 31_999)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port in 20000-31999")


class Server:
    """One server process; `restart()` keeps its ports (clients reconnect to the same target)."""

    def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
        self.rpc_port, self.admin_port, self.ws_port = free_port(), free_port(), free_port()
        self.extra_env = env or {}
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"presence-pytest-{self.rpc_port}.log"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.rpc_port}"

    @property
    def secret(self) -> str:
        return SECRET

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(
            PRESENCE_HOST="127.0.0.1",
            PRESENCE_RPC_PORT=str(self.rpc_port),
            PRESENCE_ADMIN_PORT=str(self.admin_port),
            PRESENCE_WS_PORT=str(self.ws_port),
            PRESENCE_JWT_SECRET=SECRET,
            # A key means production mode, where anonymous callers have no rights unless configured
            # (docs/security.md); these tests watch and read as anonymous viewers, as the TS
            # harness does (test/support/access.ts).
            PRESENCE_ANONYMOUS_RIGHTS='{"**": ["join", "watch", "read"], "user:**": ["status.read", "status.watch"]}',
            PRESENCE_LOG_LEVEL="warn",
            # No embedded PGlite history: its start pauses the event loop for seconds on a busy
            # machine, longer than the short TTL below (sessions would expire under UDP heartbeats).
            PRESENCE_HISTORY="off",
            PRESENCE_HEARTBEAT_INTERVAL_MS="1000",
            PRESENCE_SESSION_TTL_MS="3000",
            PRESENCE_REAPER_INTERVAL_MS="100",
            PRESENCE_RECONNECT_GRACE_MS="1500",
            PRESENCE_SHUTDOWN_DEADLINE_MS="1000",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> "Server":
        cmd = shlex.split(os.environ.get("PRESENCE_SERVER_CMD", "node dist/main.js"))
        if "PRESENCE_SERVER_CMD" not in os.environ and not (REPO / "dist" / "main.js").exists():
            raise RuntimeError("dist/main.js is missing: run `npm run build` first (npm test builds it)")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env(), stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"server not ready within {timeout} s: {self.log_path.read_text()[-2000:]}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM: streams end with DRAINING)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9, by pid."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, token=None, **kwargs) -> PresenceClient:
        return PresenceClient(self.target, token=token, **kwargs)

    def user_token(self, user_id: str, **kwargs) -> str:
        return user_token(SECRET, user_id, **kwargs)

    def service_token(self) -> str:
        return service_token(SECRET, "pytest-backend")

    def admin_token(self) -> str:
        return admin_token(SECRET)


@pytest.fixture(scope="module")
def server():
    s = Server().start()
    yield s
    s.stop()
    s.kill()


@pytest.fixture
def fresh_server():
    s = Server().start()
    yield s
    s.stop()
    s.kill()


_counter = [0]


@pytest.fixture
def room(request) -> str:
    """A room name unique to the test."""
    _counter[0] += 1
    return f"/pytest/{request.node.name}/{_counter[0]}"
