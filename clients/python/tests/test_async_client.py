"""The asyncio client (grpc.aio) against a real server."""

import asyncio

import pytest

from presence_client import AsyncPresenceClient, Counts, Joined, Left, Snapshot, errors


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_async_join_watch_leave(server, room):
    async def scenario():
        async with AsyncPresenceClient(server.target) as viewer, AsyncPresenceClient(server.target, token=server.user_token("lea", name="Lea")) as lea:
            watch = viewer.watch(room)
            first = await watch.__anext__()
            assert isinstance(first, Snapshot)
            joined = await lea.join(room, metadata={"tab": "1"})
            ev = await watch.__anext__()
            assert isinstance(ev, Joined) and ev.user.name == "Lea" and ev.connection.metadata == {"tab": "1"}
            assert await viewer.count(room) == Counts(users=1, connections=1)
            assert [m.user_id for m in await viewer.list(room)] == ["lea"]
            await lea.heartbeat(joined, activity="away")
            assert (await lea.leave(joined, room)) is True
            kinds = []
            async for e in watch:
                kinds.append(type(e).__name__)
                if isinstance(e, Left):
                    break
            assert kinds[-1] == "Left"
            watch.close()

    run(scenario())


def test_async_user_status_and_watch_users(server, room):
    async def scenario():
        async with AsyncPresenceClient(server.target, token=server.service_token()) as backend:
            await backend.join(room, user="max")
            assert (await backend.user_status("max"))["max"].state == "online"
            got = []
            async for change in backend.watch_users("max", "nina"):
                got.append((change.status.user_id, change.status.state, change.snapshot))
                if len(got) == 2:
                    break
            assert sorted(got) == [("max", "online", True), ("nina", "offline", True)]

    run(scenario())


def test_async_errors_are_mapped(server):
    async def scenario():
        async with AsyncPresenceClient(server.target) as anon:
            with pytest.raises(errors.InvalidArgument) as info:
                await anon.join("")
            assert info.value.reason == "INVALID_ROOM" and info.value.field == "room"
            with pytest.raises(errors.SessionNotFound) as info:
                await anon.heartbeat("no-such-session-0123456789")
            assert info.value.retry == "rejoin"

    run(scenario())
