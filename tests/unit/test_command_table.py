"""The command table is consistent with its consumers, and sane on its own.

Every spec the shards execute has exactly one shard handler, every spec the
proxy answers has a proxy handler, every fan-out names a merge that exists,
and COMMAND's replies built from the table have Redis 7's shapes.
"""

import pytest

from cluster import command_docs
from cluster.commands.keyspecs import HOOK_KEY_SPECS, KEYNUM_SPECS
from cluster.commands import ALL, COMMANDS, FLAGS, KEYED, LOCAL, SPLIT, all_specs
from cluster.errors import CommandError
from cluster.commands.keyspecs import KEYNUM_SPECS
from cluster.resp import SetReply, encode


def test_every_spec_has_a_shard_handler():
    """Shard-routed specs need one; so do LOCAL ones, since a shard answers
    connection commands itself for clients that reach it directly."""
    from shardnode.registry import load_families

    handlers = load_families()
    for spec in all_specs():
        if spec.subcommands:
            continue  # the container resolves to a subcommand first
        assert spec.name in handlers, "no shard handler for %s" % spec.name


def test_one_list_of_families_serves_specs_and_handlers():
    """FAMILIES names every spec module of cluster/commands and every shard
    module that registers handlers, each once."""
    from pathlib import Path

    from cluster.commands import FAMILIES

    root = Path(__file__).resolve().parents[2]
    assert len(set(FAMILIES)) == len(FAMILIES)
    spec_modules = {p.stem for p in (root / "cluster" / "commands").glob("*.py")} - {
        "__init__", "keyspecs"}  # the package itself, and the key-finding hooks
    assert set(FAMILIES) == spec_modules
    handler_modules = {p.stem for p in (root / "shardnode").glob("*.py")
                       if "\n@handler(" in p.read_text()}
    assert set(FAMILIES) == handler_modules


def test_every_local_spec_has_a_proxy_handler():
    from proxy.local import LOCAL_HANDLERS

    for spec in all_specs():
        if spec.route == LOCAL and not spec.subcommands:
            assert spec.name in LOCAL_HANDLERS, "no proxy handler for %s" % spec.name


def test_every_fanout_merge_is_implemented():
    import proxy.worker  # noqa: F401  (registers every fan-out)
    from proxy.fanout import FANOUTS, MERGES

    for spec in all_specs():
        if spec.route in (ALL, SPLIT):
            assert spec.merge, "%s fans out without a merge" % spec.name
            assert spec.merge in MERGES or spec.merge in FANOUTS, (
                "%s names merge %r, which nothing implements" % (spec.name, spec.merge))


def test_specs_are_sane():
    for spec in all_specs():
        assert spec.name == spec.name.lower()
        assert spec.arity != 0, spec.name
        assert spec.route in (LOCAL, KEYED, SPLIT, ALL), spec.name
        assert spec.flags <= set(FLAGS), (spec.name, spec.flags - set(FLAGS))
        assert not ({"write", "readonly"} <= spec.flags), spec.name
        for cat in spec.acl:
            assert cat.startswith("@") and cat[1:] in command_docs.ACL_CATEGORIES, (
                spec.name, cat)
        assert ("@fast" in spec.acl) != ("@slow" in spec.acl), spec.name
        if spec.first_key:
            assert spec.key_step >= 1, spec.name
            # The keys fit in the smallest request the arity allows.
            assert spec.first_key < abs(spec.arity) or spec.arity < 0, spec.name
            if spec.last_key > 0:
                assert spec.last_key >= spec.first_key, spec.name
        if spec.container is not None:
            assert spec.arity >= 2 or spec.arity <= -2, spec.name
            assert spec.name.startswith(spec.container + "|")


def test_internal_commands_are_never_listed():
    listed = command_docs.command_reply([b"COMMAND", b"LIST"])
    assert listed and not any(name.startswith(b"df.") for name in listed)
    info = command_docs.command_reply([b"COMMAND"])
    assert not any(entry[0].startswith(b"df.") for entry in info)
    assert command_docs.command_reply([b"COMMAND", b"INFO", b"df.link"]) == [None]
    count = command_docs.command_reply([b"COMMAND", b"COUNT"])
    assert count == len(info) == sum(1 for s in COMMANDS.values() if s.group != "internal")
    with pytest.raises(CommandError, match="Invalid command specified"):
        command_docs.command_reply([b"COMMAND", b"GETKEYS", b"df.export", b"k"])


def test_command_info_entry_shape_resp2_and_resp3():
    entry = command_docs.command_reply([b"COMMAND", b"INFO", b"get"])[0]
    assert entry[:6] == [b"get", 2, ["readonly", "fast"], 1, 1, 1]
    assert entry[6] == ["@read", "@string", "@fast"]
    assert encode(entry, 2).startswith(
        b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        b"*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n")
    resp3 = encode(entry, 3)
    assert resp3.startswith(b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
    assert b"%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n" in resp3
    assert resp3.endswith(b"~0\r\n")  # no subcommands: an empty set


def test_key_specs_from_first_last_step():
    mset = command_docs.command_reply([b"COMMAND", b"INFO", b"mset"])[0]
    (spec,) = mset[8]
    assert spec[b"begin_search"] == {b"type": b"index", b"spec": {b"index": 1}}
    assert spec[b"find_keys"] == {
        b"type": b"range", b"spec": {b"lastkey": -1, b"keystep": 2, b"limit": 0}}
    assert type(mset[2]) is SetReply


def test_getkeys_errors_and_movable_keys():
    run = command_docs.command_reply
    assert run([b"COMMAND", b"GETKEYS", b"MSET", b"a", b"1", b"b", b"2"]) == [b"a", b"b"]
    with pytest.raises(CommandError, match="^ERR The command has no key arguments$"):
        run([b"COMMAND", b"GETKEYS", b"PING"])
    with pytest.raises(CommandError, match="^ERR Invalid command specified$"):
        run([b"COMMAND", b"GETKEYS", b"NOPE", b"a"])
    with pytest.raises(CommandError,
                       match="^ERR Invalid number of arguments specified for command$"):
        run([b"COMMAND", b"GETKEYS", b"GET"])
    hooked = [s for s in all_specs() if s.keys_hook and s.group != "internal"]
    for spec in hooked:  # movable keys: flagged; a keynum spec when a count says
        entry = command_docs.info_entry(spec)  # where they are, else "unknown"
        assert "movablekeys" in entry[2]
        if spec.keys_hook in KEYNUM_SPECS:
            assert entry[8][-1][b"find_keys"][b"type"] == b"keynum"
        elif spec.keys_hook in HOOK_KEY_SPECS:  # SORT, GEORADIUS: their own tables
            assert [ks[b"begin_search"][b"type"] for ks in entry[8]] == [
                b"unknown" if index is None else b"keyword" if type(index) is tuple
                else b"index" for index, _flags, _notes in HOOK_KEY_SPECS[spec.keys_hook]]
        else:
            assert entry[8][0][b"begin_search"][b"type"] == b"unknown"


def test_command_list_filters():
    run = command_docs.command_reply
    conn = run([b"COMMAND", b"LIST", b"FILTERBY", b"ACLCAT", b"connection"])
    assert b"ping" in conn and b"client|setname" in conn and b"client" not in conn
    assert set(run([b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"CONFIG*"])) == {
        b"config", b"config|get", b"config|set", b"config|resetstat", b"config|rewrite",
        b"config|help"}
    assert run([b"COMMAND", b"LIST", b"FILTERBY", b"MODULE", b"x"]) == []
    with pytest.raises(CommandError, match="^ERR syntax error$"):
        run([b"COMMAND", b"LIST", b"FILTERBY", b"NAME", b"x"])


def test_command_docs_brief_form():
    docs = command_docs.command_reply([b"COMMAND", b"DOCS", b"get", b"client", b"nosuch"])
    assert list(docs) == [b"get", b"client"]
    assert docs[b"get"][b"group"] == b"string"
    assert b"client|setname" in docs[b"client"][b"subcommands"]
    assert encode(docs, 3).startswith(b"%2\r\n$3\r\nget\r\n%")
