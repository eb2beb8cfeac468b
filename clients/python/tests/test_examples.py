"""The Django mixin and FastAPI connection-manager examples (examples/) against a real server, used
directly (the join/leave callbacks, first-connect/last-disconnect hooks); inside the real
frameworks: test_frameworks.py."""

import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path[:0] = [str(EXAMPLES / "django_presence"), str(EXAMPLES / "fastapi_messenger")]

import presence_mixin  # noqa: E402
from presence_manager import PresenceManager  # noqa: E402


def until(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class View:
    """Stands in for a LiveView: what the mixin reads is `request.user` and attributes."""

    def __init__(self, user_id, doc_id):
        self.request = SimpleNamespace(user=SimpleNamespace(pk=user_id, is_authenticated=True), session_key=None)
        self.doc_id = doc_id


class DocumentView(presence_mixin.PresenceMixin, View):
    presence_key = "document:{doc_id}"

    def __init__(self, user_id, doc_id):
        super().__init__(user_id, doc_id)
        self.flashes = []

    def handle_presence_join(self, presence):
        self.flashes.append(("joined", presence["user_id"], presence.get("name")))

    def handle_presence_leave(self, presence):
        self.flashes.append(("left", presence["user_id"]))


def test_django_mixin_tracks_lists_counts_and_calls_back(server, room):
    presence_mixin.configure(server.target, server.secret)
    try:
        doc = room.replace("/", "-")
        watcher = DocumentView("ana", doc)
        watcher.track_presence(meta={"name": "ana", "color": "#6c63ff"})
        bob_tab1, bob_tab2 = DocumentView("bob", doc), DocumentView("bob", doc)
        bob_tab1.track_presence(meta={"name": "bob"})
        bob_tab2.track_presence(meta={"name": "bob"})
        assert watcher.presence_count() == 2
        assert sorted((p["user_id"], p["name"]) for p in watcher.list_presences()) == [("ana", "ana"), ("bob", "bob"), ("bob", "bob")]
        until(lambda: ("joined", "bob", "bob") in watcher.flashes)
        bob_tab1.untrack_presence()  # bob still has a tab open: no leave
        time.sleep(0.3)
        assert ("left", "bob") not in watcher.flashes
        bob_tab2.untrack_presence()
        until(lambda: ("left", "bob") in watcher.flashes)
        assert watcher.flashes.count(("joined", "bob", "bob")) == 1 and watcher.flashes.count(("left", "bob")) == 1
        assert watcher.presence_count() == 1
        watcher.untrack_presence()
    finally:
        presence_mixin.shutdown()


def test_fastapi_manager_first_connect_and_last_disconnect(server):
    events = []

    async def online(uid):
        events.append(("online", uid))

    async def offline(uid):
        events.append(("offline", uid))

    async def scenario():
        manager = PresenceManager(server.target, server.service_token(), on_first_connect=online, on_last_disconnect=offline)
        await manager.start()
        try:
            a1 = await manager.connect("amir", zone="10", name="Amir")
            a2 = await manager.connect("amir", zone="10", name="Amir")
            b1 = await manager.connect("bea", zone="10")
            assert sorted(await manager.online_in("10")) == ["amir", "bea"]
            assert {u: s.state for u, s in (await manager.statuses("amir", "bea", "cy")).items()} == {"amir": "online", "bea": "online", "cy": "offline"}
            await manager.disconnect("amir", a1)
            assert (await manager.statuses("amir"))["amir"].state == "online"
            await manager.disconnect("amir", a2)
            await manager.disconnect("bea", b1)
            statuses = await manager.statuses("amir", "bea")
            assert {s.state for s in statuses.values()} == {"offline"} and all(s.last_seen for s in statuses.values())
        finally:
            await manager.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert events == [("online", "amir"), ("online", "bea"), ("offline", "amir"), ("offline", "bea")]
