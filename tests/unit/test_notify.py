"""Keyspace notifications without a network: the letters of
notify_keyspace_events, the event table's completeness, and the notifier on
an in-process shard with a recording sink (tests/differential/
test_notifications.py compares the events themselves with redis-server)."""

import hiredis
import pytest

from cluster.commands import all_specs
from cluster.config import (
    Config,
    ConfigError,
    format_keyspace_events,
    parse_keyspace_events,
)
from cluster.topology import Topology
from shardnode.node import ShardConnection, ShardServer
from shardnode.notify import EVENTS
from tests.helpers import Err

# (CONFIG SET value, CONFIG GET answer), as redis-server 7.0.15 answered.
LETTERS = [
    ("KEA", "AKE"), ("AKEn", "AKE"), ("Ag", "A"), ("g$lshzxetd", "A"), ("g$lshzxetdn", "A"),
    ("KEg$lshzxeEtmdn", "AKEm"), ("x", "x"), ("KExm", "xKEm"), ("", ""), ("EKlg", "glKE"),
    ("AE", "AE"), ("d", "d"), ("lllK", "lK"), ("$", "$"), ("m", "m"), ("n", "n"),
    ("KnEA", "AKE"),
]


@pytest.mark.parametrize("given,shown", LETTERS)
def test_letters_normalise_as_redis_shows_them(given, shown):
    assert format_keyspace_events(parse_keyspace_events(given)) == shown


def test_a_hides_n_but_keeps_it():
    """Redis prints "AKE" for "AKEn", and still publishes new events."""
    assert parse_keyspace_events("AKEn") != parse_keyspace_events("AKE")


@pytest.mark.parametrize("bad", ["Q", "KEA ", "a", "k"])
def test_unknown_letters_are_refused_with_redis_wording(bad):
    config = Config()
    with pytest.raises(ConfigError) as info:
        config.set("notify-keyspace-events", bad)
    assert info.value.problem == "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."


def test_every_write_command_has_an_event_entry():
    writes = {spec.name for spec in all_specs() if spec.is_write}
    assert writes - set(EVENTS) == set()
    assert set(EVENTS) - writes == set()


class Shard:
    def __init__(self):
        config = Config({"proactor_threads": 1})
        self.server = ShardServer(config, 0, Topology(config), "secret")
        self.conn = ShardConnection(self.server)
        self.conn.init_session(self.server, "test:1", "test:2")
        self.conn.refresh_plain()
        self.sent = []
        self.server.publish_event = lambda channel, message: self.sent.append(
            (channel, message))

    def __call__(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.server.keyspace.tick()
        reader = hiredis.Reader(replyError=Err)
        reader.feed(self.conn.execute(args))
        return reader.gets()


def test_off_by_default_attaches_nothing():
    shard = Shard()
    keyspace = shard.server.keyspace
    assert keyspace.journal.notifier is None
    listeners = list(keyspace.write_listeners)
    shard("SET", "a", "1")
    assert shard.sent == [] and keyspace.write_listeners == listeners


def test_config_set_attaches_and_detaches():
    shard = Shard()
    keyspace = shard.server.keyspace
    assert shard("CONFIG", "SET", "notify-keyspace-events", "E$") == b"OK"
    assert keyspace.journal.notifier is not None
    shard("SET", "a", "1")
    shard("LPUSH", "l", "x")  # not a chosen class
    assert shard.sent == [(b"__keyevent@0__:set", b"a")]
    assert shard("CONFIG", "SET", "notify-keyspace-events", "") == b"OK"
    assert keyspace.journal.notifier is None
    shard("SET", "a", "2")
    assert len(shard.sent) == 1
    assert shard("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b""]


def test_classes_without_a_channel_publish_nothing():
    """Without K or E nothing could be published: the notifier stays off."""
    shard = Shard()
    shard("CONFIG", "SET", "notify-keyspace-events", "A")
    assert shard.server.keyspace.journal.notifier is None


def test_expired_lazily_and_actively():
    shard = Shard()
    shard("CONFIG", "SET", "notify-keyspace-events", "Kx")
    shard("SET", "a", "1", "PX", "1")
    shard("SET", "b", "1", "PX", "1")
    keyspace = shard.server.keyspace
    keyspace.clock = lambda: keyspace.now_ms + 10
    assert shard("GET", "a") is None  # lazily
    keyspace.active_expire()  # actively
    assert shard.sent == [(b"__keyspace@0__:a", b"expired"), (b"__keyspace@0__:b", b"expired")]


def test_evicted_goes_through_the_journal():
    shard = Shard()
    shard("CONFIG", "SET", "notify-keyspace-events", "Ee")
    shard("SET", "a", "1")
    db = shard.server.keyspace.dbs[0]
    db.delete(b"a")
    shard.server.keyspace.journal.evicted(0, b"a")
    assert shard.sent == [(b"__keyevent@0__:evicted", b"a")]
    assert shard.server.keyspace.journal.tail(1) == [[b"SELECT", b"0"], [b"DEL", b"a"]]


def test_yaml_and_flag_values(tmp_path):
    from cluster.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("notify_keyspace_events: Ex\n")
    config = load_config(["--config", str(path)])
    assert format_keyspace_events(config.notify_keyspace_events) == "xE"
    config = load_config(["--config", str(path), "--notify-keyspace-events", "KA"])
    assert format_keyspace_events(config.notify_keyspace_events) == "AK"
    for bad in ("notify_keyspace_events: 1\n", "notify_keyspace_events: yes\n",
                "notify_keyspace_events: KEQ\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError, match="notify_keyspace_events"):
            load_config(["--config", str(path)])
