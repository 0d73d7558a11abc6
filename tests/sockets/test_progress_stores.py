"""Shared upload-progress stores: the master's store over its real unix socket (put, get,
TTL, bounds, reconnect, bad frames), Redis against a real redis-server, the guard that
keeps a dead store from failing an upload, and how the middleware picks its store."""

from __future__ import annotations

import os
import socket
import stat
import struct

import msgpack
import pytest

import greenhttp
from greenhttp.progress import GuardedStore, MemoryStore, Progress, ProgressMiddleware, default_store
from greenhttp.progress import stores
from greenhttp.progress.redisstore import RedisStore
from greenhttp.progress.shared import MAX_FRAME, SharedStore, SharedStoreServer

from redis_runner import redis_url  # noqa: F401  (a fixture)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def consume(environ, start_response):
    size = len(environ["wsgi.input"].read())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(size).encode()]


@pytest.fixture
def master():
    server = SharedStoreServer().start()
    yield server
    server.close()


# -- the master's store over its unix socket -------------------------------------------------

def test_put_and_get_over_the_socket(master):
    client = SharedStore(master.path)
    record = Progress("up1", state="uploading", received=1234, total=5000, rate=99.5)
    client.put(record)
    assert client.get("up1") == record
    assert client.get("nobody") is None
    # A second worker's client, its own connection, sees the same record.
    assert SharedStore(master.path).get("up1") == record
    assert master.store.get("up1") == record


def test_socket_is_private_and_removed_on_close():
    server = SharedStoreServer().start()
    directory = server.directory
    assert directory is not None and os.path.dirname(server.path) == directory
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(server.path).st_mode)
    server.close()
    assert not os.path.exists(directory)


def test_ttl_of_finished_and_stale_records(tmp_path):
    clock = Clock()
    server = SharedStoreServer(str(tmp_path / "s.sock"), MemoryStore(ttl=60, stale_ttl=600, clock=clock)).start()
    try:
        client = SharedStore(server.path)
        client.put(Progress("done1", state="done", updated=clock.now))
        client.put(Progress("busy1", state="uploading", updated=clock.now))
        clock.now += 61
        assert client.get("done1") is None and client.get("busy1") is not None
        clock.now += 600
        assert client.get("busy1") is None
    finally:
        server.close()
    assert not os.path.exists(server.path)


def test_entries_are_bounded(tmp_path):
    server = SharedStoreServer(str(tmp_path / "s.sock"), MemoryStore(max_entries=3)).start()
    try:
        client = SharedStore(server.path)
        for n in range(5):
            client.put(Progress(f"u{n}"))
        assert [client.get(f"u{n}") is not None for n in range(5)] == [False, False, True, True, True]
        assert len(server.store) == 3
    finally:
        server.close()


def test_client_reconnects_after_the_store_restarts(master):
    client = SharedStore(master.path)
    record = Progress("r1", received=1)
    client.put(record)
    master.stop()  # every connection closed, the socket gone
    with pytest.raises(ConnectionError):
        client.get("r1")
    master.start()  # the same path, the same records
    assert client.get("r1") == record
    client.put(Progress("r2", received=2))
    assert master.store.get("r2").received == 2
    # A restart while a connection is idle: the stale one is replaced within the same call.
    master.stop()
    master.start()
    assert client.get("r2").received == 2


def test_dead_store_answers_within_the_timeout(tmp_path):
    client = SharedStore(str(tmp_path / "nobody.sock"), timeout=0.5)
    with pytest.raises(OSError):
        client.put(Progress("x"))
    # A master that accepts but never answers: a timeout, not a hang.
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(1)
    client = SharedStore(str(tmp_path / "silent.sock"), timeout=0.3)
    with pytest.raises(OSError):
        client.get("x")
    silent.close()


def test_bad_requests_and_oversized_frames(master):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(3)
        sock.connect(master.path)
        data = msgpack.packb(["frobnicate", 1])
        sock.sendall(struct.pack(">I", len(data)) + data)
        size, = struct.unpack(">I", sock.recv(4))
        assert msgpack.unpackb(sock.recv(size)) == [False, "unknown operation 'frobnicate'"]
        data = msgpack.packb(["put", {"no_such_field": 1}])
        sock.sendall(struct.pack(">I", len(data)) + data)
        size, = struct.unpack(">I", sock.recv(4))
        ok, why = msgpack.unpackb(sock.recv(size))
        assert ok is False and why.startswith("bad request")
        sock.sendall(struct.pack(">I", MAX_FRAME + 1))  # the master hangs up at once
        assert sock.recv(10) == b""
    with pytest.raises(ValueError, match="unknown operation"):
        SharedStore(master.path)._call(["nope", None])


# -- Redis --------------------------------------------------------------------------------

def test_redis_store_keys_values_and_ttls(redis_url):  # noqa: F811
    import redis

    store = RedisStore(redis_url, prefix="test:", ttl=60, stale_ttl=3600)
    client = redis.Redis.from_url(redis_url)
    busy = Progress("red1", state="uploading", received=10, total=100)
    store.put(busy)
    assert store.get("red1") == busy and store.get("nobody") is None
    assert msgpack.unpackb(client.get("test:red1"))["received"] == 10
    assert 3590 < client.ttl("test:red1") <= 3600  # in flight: the stale TTL
    store.put(Progress("red1", state="done", received=100, total=100))
    assert 50 < client.ttl("test:red1") <= 60  # finished: the short one (SET ... EX)
    assert store.get("red1").state == "done"
    client.close()
    assert "secret" not in repr(RedisStore("redis://:secret@cache:6379/1"))  # it is logged


def test_dead_redis_never_fails_an_upload(serve):
    from nginx_runner import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with serve(ProgressMiddleware(consume, store=store)) as server:
        response = greenhttp.post(server.url + "/up?X-Progress-ID=d1", body=b"x" * 100_000)
        assert response.status == 200 and response.text == "100000"
        poll = greenhttp.get(server.url + "/progress?X-Progress-ID=d1")
        assert poll.status == 503 and poll.json()["state"] == "unavailable"
        assert poll.headers["retry-after"] == "1"


def test_dead_shared_store_never_fails_an_upload_and_recovers(serve, tmp_path):
    path = str(tmp_path / "store.sock")
    middleware = ProgressMiddleware(consume, store=SharedStore(path, timeout=0.5))
    with serve(middleware) as server:
        response = greenhttp.post(server.url + "/up?X-Progress-ID=s1", body=b"y" * 50_000)
        assert response.status == 200 and response.text == "50000"
        assert greenhttp.get(server.url + "/progress?X-Progress-ID=s1").status == 503
        master = SharedStoreServer(path).start()  # the store comes (back)
        try:
            middleware.guarded._down_until = 0.0  # skip the backoff's wait
            response = greenhttp.post(server.url + "/up?X-Progress-ID=s2", body=b"z" * 10)
            assert response.status == 200
            report = greenhttp.get(server.url + "/progress?X-Progress-ID=s2").json()
            assert report["state"] == "done" and report["received"] == 10
        finally:
            master.close()


def test_guard_backs_off_then_tries_again():
    class Flaky:
        def __init__(self) -> None:
            self.up, self.calls = False, 0

        def put(self, progress):
            self.calls += 1
            if not self.up:
                raise ConnectionRefusedError("down")

        def get(self, upload_id):
            return None

    clock, flaky = Clock(), Flaky()
    guard = GuardedStore(flaky, backoff=1.0, max_backoff=4.0, clock=clock)
    guard.put(Progress("g"))
    guard.put(Progress("g"))  # within the backoff: not even tried
    assert flaky.calls == 1 and guard.down
    with pytest.raises(ConnectionError):
        guard.get("g")
    clock.now += 1.01
    guard.put(Progress("g"))  # tried, fails again: now 2 s
    assert flaky.calls == 2
    clock.now += 1.5
    assert guard.down
    clock.now += 0.6
    flaky.up = True
    guard.put(Progress("g"))
    assert flaky.calls == 3 and not guard.down and guard.get("g") is None


# -- which store -------------------------------------------------------------------------------

@pytest.fixture
def configured():
    saved = stores._configured
    yield stores.configure
    stores._configured = saved


def test_store_choice_argument_setting_shared_memory(configured, monkeypatch, master):
    explicit = MemoryStore()
    configured("redis://127.0.0.1:1/0", master.path)
    assert ProgressMiddleware(consume, store=explicit).store is explicit  # 1. the argument
    assert isinstance(default_store(), RedisStore)                       # 2. the setting
    configured("", master.path)
    assert isinstance(default_store(), SharedStore)                      # 3. the master's store
    configured("", None)
    assert isinstance(default_store(), MemoryStore)                      # 4. this process
    # Not under the command: GREENHTTP_PROGRESS_STORE.
    stores._configured = None
    monkeypatch.setenv("GREENHTTP_PROGRESS_STORE", "redis://127.0.0.1:1/2")
    assert isinstance(default_store(), RedisStore)
    monkeypatch.setenv("GREENHTTP_PROGRESS_STORE", "memcached://x")
    with pytest.raises(ValueError, match="GREENHTTP_PROGRESS_STORE"):
        default_store()
    monkeypatch.delenv("GREENHTTP_PROGRESS_STORE")
    assert isinstance(default_store(), MemoryStore)
