"""watch_events (BackendService.WatchEvents) from Python: typed backend events with cursors, filters,
resume by cursor, and the stream surviving a server restart."""

import asyncio
import threading
import time

import pytest

from presence_client import AsyncPresenceClient, BackendEvent, errors


def collect(watch, into):
    t = threading.Thread(target=lambda: [into.append(e) for e in watch], daemon=True)
    t.start()
    return t


def until(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_watch_events_filters_and_resumes_by_cursor(server, room):
    with server.client(server.service_token()) as svc, server.client(server.user_token("wes")) as wes:
        got = []
        watch = svc.watch_events(rooms=[room + "/**"], kinds=["member_added", "member_removed"])
        collect(watch, got)
        time.sleep(0.3)
        joined = wes.join(room + "/a")
        until(lambda: len(got) >= 1)
        first = got[0]
        assert isinstance(first, BackendEvent) and (first.kind, first.room, first.user_id) == ("member_added", room + "/a", "wes")
        assert first.detail.user.user_id == "wes" and first.cursor
        watch.close()
        wes.leave(joined, room + "/a")  # missed while not watching; announced after the grace (1.5 s)
        time.sleep(2.0)
        again = svc.watch_events(rooms=[room + "/**"], kinds=["member_added", "member_removed"], resume_after=first.cursor)
        nxt = next(again)
        assert (nxt.kind, nxt.user_id) == ("member_removed", "wes")
        again.close()
        with pytest.raises(ValueError, match="kinds"):
            svc.watch_events(kinds=["nope"])
    # Rights per event: a user whose capability grants `watch` on one room only sees that room's events.
    with server.client(server.user_token("lead", extra_claims={"capability": {room + "/team/**": ["watch"]}})) as lead, server.client(server.user_token("wes")) as wes:
        got = []
        watch = lead.watch_events(kinds=["member_added"])
        collect(watch, got)
        time.sleep(0.3)
        wes.join(room + "/other")
        wes.join(room + "/team/x")
        until(lambda: len(got) >= 1)
        time.sleep(0.3)
        assert [(e.kind, e.room) for e in got] == [("member_added", room + "/team/x")]
        watch.close()
    with server.client(server.user_token("join-only", extra_claims={"capability": {room: ["join"]}})) as user:
        with pytest.raises(errors.PermissionDenied):
            next(user.watch_events())


def test_watch_events_survives_a_server_restart(fresh_server, room):
    with fresh_server.client(fresh_server.service_token()) as svc:
        got = []
        watch = svc.watch_events(kinds=["member_added"], max_backoff=0.3)
        collect(watch, got)
        time.sleep(0.3)
        svc.join(room, user="before")
        until(lambda: len(got) == 1)
        fresh_server.restart()
        time.sleep(1.0)  # the watch reconnects by itself (the memory store's feed restarted empty)

        def join_after():  # a unary call made while the channel still backs off is unavailable: retry it
            try:
                svc.join(room, user="after")
                return True
            except errors.Unavailable:
                return False

        until(join_after)
        until(lambda: [e.user_id for e in got if isinstance(e, BackendEvent)] == ["before", "after"], timeout=30)
        watch.close()


def test_async_watch_events(server, room):
    async def scenario():
        async with AsyncPresenceClient(server.target, token=server.service_token()) as svc:
            stream = svc.watch_events(kinds=["room_occupied"], rooms=[room])
            first = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.3)
            await svc.join(room, user="ava")
            event = await asyncio.wait_for(first, 10)
            assert (event.kind, event.room) == ("room_occupied", room)
            await stream.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 30))
