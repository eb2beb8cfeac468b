"""The Tracker (one Track stream per backend process) against real servers: tracking, updates,
activity, clean close, a reconnect that reclaims everything with no leave/join, and surviving a
server restart and a kill -9 of the server (it tracks everything again)."""

import threading
import time

import pytest

from presence_client import Counts, Joined, Left, Tracker, errors


def until(check, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def counts(client, rooms):
    return [client.count(r).connections for r in rooms]


def test_track_update_activity_untrack_close(server, room):
    rooms = [f"{room}/{i}" for i in range(5)]
    with server.client() as viewer, Tracker(server.target, token=server.service_token()) as tracker:
        for i in range(50):
            r = tracker.track(f"ws-{i}", rooms[i % 5], user=f"user-{i}", metadata={"i": str(i)})
            assert r.changed and r.view.members_omitted
        assert counts(viewer, rooms) == [10] * 5
        assert tracker.track("ws-0", rooms[0], metadata={"i": "0"}).changed is False  # idempotent, like Join
        assert tracker.update("ws-1", rooms[1], {"i": "one"}).changed is True
        tracker.set_activity("ws-2", "away")
        members = {m.user_id: m for m in viewer.list(rooms[1]) + viewer.list(rooms[2])}
        assert members["user-1"].connections[0].metadata == {"i": "one"}
        assert members["user-2"].activity == "away"
        assert tracker.untrack("ws-3") is True
        assert tracker.untrack("ws-3") is False
        assert counts(viewer, rooms) == [10, 10, 10, 9, 10]
        with pytest.raises(errors.PermissionDenied):
            Tracker(server.target, token=server.user_token("mallory")).start().track("k", rooms[0], user="someone-else")
        assert tracker.close() == 49
        assert counts(viewer, rooms) == [0] * 5
        started = time.monotonic()
        assert tracker.close() == 0  # idempotent, and at once (the `with` closes it again)
        assert time.monotonic() - started < 1.0


def test_reconnect_within_the_grace_reclaims_without_leave_or_join(server, room):
    with server.client() as viewer:
        watch = viewer.watch(room)
        assert next(watch).view.counts == Counts()
        tracker = Tracker(server.target, token=server.service_token()).start()
        for i in range(20):
            tracker.track(f"k{i}", room, user=f"u{i}")
        seen = []
        reader = threading.Thread(target=lambda: seen.extend(watch), daemon=True)
        reader.start()
        until(lambda: sum(isinstance(e, Joined) for e in seen) == 20, what="20 joins")
        tracker.reconnect()
        until(lambda: tracker.connects == 2 and tracker.connected, what="the reconnect")
        assert tracker.resumed_connects == 1
        tracker.track("k-new", room, user="u-new")  # works on the new stream
        time.sleep(2.0)  # past the grace (1.5 s): nothing left behind by the old stream
        kinds = [type(e).__name__ for e in seen]
        assert kinds.count("Joined") == 21 and kinds.count("Left") == 0, kinds
        tracker.abandon()  # no close: the server keeps them for the grace, then they leave
        until(lambda: sum(isinstance(e, Left) for e in seen) == 21, timeout=15, what="21 leaves after the grace")
        assert {e.reason for e in seen if isinstance(e, Left)} == {"timeout"}
        watch.close()


@pytest.mark.parametrize("how", ["restart", "kill -9"])
def test_tracker_survives_a_server_restart(fresh_server, room, how):
    rooms = [f"{room}/a", f"{room}/b"]
    tracker = Tracker(fresh_server.target, token=fresh_server.service_token(), max_backoff=0.5).start()
    for i in range(30):
        tracker.track(f"c{i}", rooms[i % 2], user=f"p{i}", metadata={"n": str(i)})
    with fresh_server.client() as viewer:
        assert counts(viewer, rooms) == [15, 15]
    if how == "restart":
        fresh_server.stop()
    else:
        fresh_server.kill()
    until(lambda: not tracker.connected, what="the tracker to notice")
    changed = threading.Thread(target=lambda: tracker.track("late", rooms[0], user="late-user"), daemon=True)
    changed.start()  # made while the server is down: applied once the stream is back
    fresh_server.start()
    until(lambda: tracker.connected and tracker.connects == 2, timeout=30, what="the reconnect")
    changed.join(30)
    with fresh_server.client() as viewer:
        until(lambda: counts(viewer, rooms) == [16, 15], what="every presence tracked again")
        assert {m.user_id for m in viewer.list(rooms[0])} == {f"p{i}" for i in range(0, 30, 2)} | {"late-user"}
        assert viewer.list(rooms[1])[0].connections[0].metadata == {"n": "1"}
    assert tracker.resumed_connects == 0  # the memory store forgot everything: re-tracked, not reclaimed
    assert tracker.close() == 31
