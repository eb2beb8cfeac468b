"""UDP heartbeats from Python against a real server: the Join answer's key and port, datagrams that
keep a session alive with no Heartbeat RPC, and a datagram with a wrong key that the server drops
and counts."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from conftest import Server, free_port
from presence_client.udp import UdpHeartbeats


@pytest.fixture(scope="module")
def udp_server():
    s = Server({"PRESENCE_UDP_PORT": str(free_port()), "PRESENCE_UDP_MIN_INTERVAL_MS": "300"}).start()
    yield s
    s.stop()
    s.kill()


def udp_counts(server: Server) -> dict:
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=5).read().decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'^presence_udp_datagrams_total\{result="([a-z_]+)"\} (\d+)', text, re.M)}


def test_udp_heartbeats_keep_a_session_alive(udp_server: Server):
    with udp_server.client(token=udp_server.user_token("ana")) as presence:
        joined = presence.join("/udp")
        assert len(joined.heartbeat_key) == 32 and joined.udp_port > 0
        with UdpHeartbeats.from_join(joined, "127.0.0.1") as udp:
            for _ in range(10):  # 5 s, well over the 3 s TTL, with no Heartbeat RPC
                udp.send()
                time.sleep(0.5)
            assert [m.user_id for m in presence.list("/udp")] == ["ana"]
            assert udp_counts(udp_server)["accepted"] >= 9
        deadline = time.monotonic() + 10
        while presence.list("/udp") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert presence.list("/udp") == []


def test_a_datagram_with_a_wrong_key_is_dropped_and_counted(udp_server: Server):
    with udp_server.client(token=udp_server.user_token("bob")) as presence:
        joined = presence.join("/udp-bad")
        before = udp_counts(udp_server).get("bad_mac", 0)
        with UdpHeartbeats("127.0.0.1", joined.udp_port, joined.session.session_id, b"\x00" * 32) as udp:
            udp.send()
        deadline = time.monotonic() + 5
        while udp_counts(udp_server).get("bad_mac", 0) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert udp_counts(udp_server)["bad_mac"] == before + 1
