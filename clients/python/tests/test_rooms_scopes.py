"""Scopes and managed rooms from Python against a real server: users online per scope (listed page
by page, counted), a managed room's participant limit, EndRoom seen by a watcher (every member
leaves with reason "ended", then RoomEnded, and the watch stops instead of resuming), and the
asyncio client's calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from presence_client import AsyncPresenceClient, Left, RoomEnded, errors


def test_scopes_list_and_count(server, room):
    svc = server.client(server.service_token())
    try:
        zone = f"zone:{room.strip('/').replace('/', '-')}"
        sessions = [svc.join(room, user=f"u{i}", scopes=[zone] if i < 7 else []) for i in range(10)]
        counts = svc.count_online(zone)
        assert counts.scopes[zone].users == 7 and counts.scopes[zone].connections == 7
        assert counts.total.users >= 10
        first = svc.list_online(zone, page_size=3)
        assert len(first.users) == 3 and first.next_page_token != "" and first.count.users == 7
        walked = [u.user.user_id for u in svc.iter_online(zone, page_size=3)]
        assert sorted(walked) == sorted(f"u{i}" for i in range(7))
        assert all(u.state == "online" and u.connections == 1 for u in first.users)
        with pytest.raises(errors.InvalidArgument) as bad:
            svc.join(room, user="x", scopes=["bad scope"])
        assert bad.value.field == "scopes[0]" and bad.value.reason == "INVALID_ARGUMENT"
        for s in sessions:
            svc.leave(s, room)
        assert svc.count_online(zone).scopes[zone].users == 0
    finally:
        svc.close()


def test_managed_room_capacity_end_and_watch(server, room):
    owner = server.client(server.user_token("owner"))
    svc = server.client(server.service_token())
    watcher = server.client(server.user_token("watcher"))
    try:
        created = owner.create_room(room, metadata={"target": "t1"}, max_participants=3)
        assert created.managed and created.status == "open" and created.owner_user_id == "owner" and created.max_participants == 3
        for i in range(3):
            svc.join(room, user=f"m{i}")
        with pytest.raises(errors.ResourceExhausted) as full:
            svc.join(room, user="m3")
        assert full.value.reason == "ROOM_FULL"
        assert owner.update_room(room, max_participants=5).max_participants == 5
        assert owner.get_room(room).counts.users == 3

        events = []
        ready = threading.Event()

        def watch():
            for event in watcher.watch(room):  # resume on: it must still stop after RoomEnded
                events.append(event)
                ready.set()

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        assert ready.wait(10)
        info, removed = owner.end_room(room, "done")
        assert removed == 3 and info.status == "ended" and info.ended_by == "owner" and info.tombstone_until is not None
        t.join(10)
        assert not t.is_alive()
        leaves = [e for e in events if isinstance(e, Left)]
        assert len(leaves) == 3 and all(e.reason == "ended" for e in leaves)
        assert isinstance(events[-1], RoomEnded) and events[-1].reason == "done" and events[-1].ended_by == "owner"
        with pytest.raises(errors.FailedPrecondition) as ended:
            svc.join(room, user="late")
        assert ended.value.reason == "ROOM_ENDED"
        with pytest.raises(errors.PermissionDenied):
            server.client(server.user_token("stranger")).end_room(room)
    finally:
        for c in (owner, svc, watcher):
            c.close()


def test_async_client_scopes_and_rooms(server, room):
    async def main():
        async with AsyncPresenceClient(server.target, token=server.service_token()) as svc:
            created = await svc.create_room(room, owner="ana", idle_timeout_ms=60_000)
            assert created.owner_user_id == "ana" and created.idle_timeout_ms == 60_000
            await svc.join(room, user="ana", scopes=["org:async"])
            assert (await svc.count_online("org:async")).scopes["org:async"].users == 1
            assert [u.user.user_id async for u in svc.iter_online("org:async")] == ["ana"]
            info, removed = await svc.end_room(room)
            assert removed == 1 and (await svc.get_room(room)).status == "ended"

    asyncio.run(main())
