"""The synchronous client against a real server: sessions, reads, statuses and watches."""

import threading
import time

import pytest

from presence_client import Counts, Joined, Left, PresenceClient, Snapshot, User, errors


def test_join_list_count_heartbeat_leave(server, room):
    with server.client(server.user_token("ana", name="Ana")) as ana, server.client() as viewer:
        joined = ana.join(room, metadata={"color": "#e11"})
        assert joined.resumed is False
        assert joined.view.room == room
        assert [m.user_id for m in joined.view.members] == ["ana"]
        assert joined.session.ttl_ms == 3000 and joined.session.expires_at is not None

        members = viewer.list(room)
        assert [(m.user.user_id, m.user.name) for m in members] == [("ana", "Ana")]
        assert members[0].connections[0].connection_id == joined.session.connection_id
        assert members[0].connections[0].metadata == {"color": "#e11"}
        assert viewer.count(room) == Counts(users=1, connections=1, anonymous=0)

        lease = ana.heartbeat(joined.session, activity="away")
        assert lease.expires_at > joined.session.expires_at
        assert viewer.list(room)[0].activity == "away"

        assert ana.leave(joined, room) is True
        assert viewer.count(room) == Counts()
        # Its last room left, the session ended: it is gone for every call.
        with pytest.raises(errors.SessionNotFound):
            ana.leave(joined.session.session_id, room)
        with pytest.raises(errors.SessionNotFound):
            ana.heartbeat(joined.session)


def test_service_joins_on_behalf_of_users_and_reads_many_rooms(server, room):
    other = room + "/b"
    with server.client(server.service_token()) as backend:
        backend.join(room, user=User("bob", name="Bob", avatar_url="https://img.example/bob.png"))
        backend.join(other, user="carol")
        views = backend.batch_get([room, other, room])
        assert list(views) == [room, other]
        assert views[room].members[0].user == User("bob", "Bob", "https://img.example/bob.png", {})
        counts = backend.batch_get([room, other], counts_only=True)
        assert all(v.members_omitted for v in counts.values())
        assert counts[other].counts.users == 1


def test_user_status_and_custom_status(server, room):
    with server.client(server.user_token("dora")) as dora, server.client(server.user_token("eve")) as eve:
        s = dora.join(room)
        statuses = eve.user_status("dora", "nobody")
        assert list(statuses) == ["dora", "nobody"]
        assert statuses["dora"].state == "online" and statuses["dora"].online
        assert statuses["nobody"].state == "offline" and statuses["nobody"].last_seen is None
        mine = dora.set_status(s, custom_status="in a meeting")
        assert mine.custom_status == "in a meeting"
        assert eve.user_status(["dora"])["dora"].custom_status == "in a meeting"


def test_watch_yields_typed_events_in_order(server, room):
    with server.client() as viewer, server.client(server.user_token("finn", name="Finn")) as finn:
        watch = viewer.watch(room)
        first = next(watch)
        assert isinstance(first, Snapshot) and first.view.room == room and first.view.members == ()
        joined = finn.join(room)
        ev = next(watch)
        assert isinstance(ev, Joined)
        assert (ev.user.user_id, ev.user.name, ev.first_of_user) == ("finn", "Finn", True)
        assert ev.connection.connection_id == joined.session.connection_id
        assert ev.version == first.view.version + 1
        finn.leave(joined, room)
        left = next(watch)
        assert isinstance(left, Left) and left.reason == "left" and left.last_of_user and left.counts == Counts()
        watch.close()
        assert list(watch) == []


def test_watch_from_another_thread_can_be_closed(server, room):
    with server.client() as viewer:
        watch = viewer.watch(room)
        assert isinstance(next(watch), Snapshot)
        seen = []
        t = threading.Thread(target=lambda: seen.extend(watch))
        t.start()
        time.sleep(0.2)
        watch.close()
        t.join(5)
        assert not t.is_alive() and seen == []


def test_watch_users_snapshot_then_changes(server, room):
    with server.client(server.user_token("gil")) as gil, server.client() as viewer:
        stream = viewer.watch_users("gil")
        snap = next(stream)
        assert snap.snapshot and snap.status.user_id == "gil" and snap.status.state == "offline"
        gil.join(room)
        change = next(stream)
        assert not change.snapshot and change.status.state == "online"
        stream.close()


def test_watch_resumes_after_a_server_restart(fresh_server, room):
    with fresh_server.client() as viewer, fresh_server.client(fresh_server.service_token()) as backend:
        watch = viewer.watch(room)
        assert isinstance(next(watch), Snapshot)
        backend.join(room, user="hana")
        assert isinstance(next(watch), Joined)
        fresh_server.restart()  # memory store: the room's state is gone, a fresh snapshot follows
        again = next(watch)
        assert isinstance(again, Snapshot) and again.view.members == ()
        backend.join(room, user="ivan")
        ev = next(watch)
        assert isinstance(ev, Joined) and ev.user.user_id == "ivan"
        watch.close()


def test_callable_token_is_read_for_every_call(server, room):
    tokens = iter([server.user_token("jo"), server.user_token("kim")])
    with PresenceClient(server.target, token=lambda: next(tokens)) as client:
        a = client.join(room)
        b = client.join(room)
        assert a.view.members[0].user_id == "jo"
        assert {m.user_id for m in b.view.members} == {"jo", "kim"}


def test_heartbeat_many_and_leave_many_answer_per_item(server, room):
    with server.client(server.service_token()) as backend, server.client(server.user_token("zoe")) as zoe:
        mine = [backend.join(room, user=f"b{i}") for i in range(20)]
        foreign = zoe.join(room)
        results = backend.heartbeat_many([*mine[:10], "x" * 24, foreign, *mine[10:]], activity="away")
        assert len(results) == 22
        assert all(hasattr(r, "expires_at") for r in results[:10] + results[12:])
        assert isinstance(results[10], errors.SessionNotFound) and isinstance(results[11], errors.SessionNotFound)
        away = {m.user_id for m in backend.list(room) if m.activity == "away"}
        assert away == {f"b{i}" for i in range(20)}  # zoe untouched
        left = backend.leave_many([(mine[0], room), (mine[1], room + "/other"), (foreign, room)])
        assert left[0] is True and left[1] is False and isinstance(left[2], errors.SessionNotFound)
        with pytest.raises(errors.InvalidArgument) as info:
            backend.heartbeat_many([])
        assert info.value.field == "heartbeats"


def test_broadcast_reaches_watchers(server, room):
    from presence_client import Broadcast

    with server.client(server.service_token()) as backend, server.client(server.user_token("bea")) as bea, server.client() as viewer:
        watch = viewer.watch(room)
        assert isinstance(next(watch), Snapshot)
        s = bea.join(room)
        assert isinstance(next(watch), Joined)
        backend.broadcast(room, "page.saved", {"rev": 7, "by": ["ana"]})
        bea.broadcast(room, "reaction", "👍", session=s)
        got = [next(watch), next(watch)]
        assert all(isinstance(b, Broadcast) for b in got)
        assert (got[0].type, got[0].payload, got[0].user_id) == ("page.saved", {"rev": 7, "by": ["ana"]}, "")
        assert (got[1].type, got[1].payload, got[1].user_id, got[1].connection_id) == ("reaction", "👍", "bea", s.session.connection_id)
        with pytest.raises(errors.PermissionDenied):
            bea.broadcast(room, "x")  # a user needs its session
        watch.close()
