"""Configuration without processes: YAML keys, flags (both spellings, both
forms), sizes with Redis units, and one clear ConfigError for every mistake."""

from __future__ import annotations

import pytest

from cluster.config import (
    OPTIONS,
    Config,
    Option,
    ConfigError,
    build_arg_parser,
    default_config_path,
    load_config,
    load_yaml,
    option,
    parse_size,
)


@pytest.fixture
def yaml_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "damselfly.yaml"
        path.write_text(text)
        return str(path)

    return write


@pytest.mark.parametrize("text,size", [
    ("0", 0), ("100", 100), ("1b", 1), ("1k", 1000), ("1kb", 1024), ("1K", 1000), ("1KB", 1024),
    ("512mb", 512 * 1024**2), ("5m", 5 * 1000**2), ("4gb", 4 * 1024**3), ("4GB", 4 * 1024**3),
    ("2g", 2 * 1000**3), (" 3kb ", 3 * 1024), (4096, 4096),
])
def test_parse_size_redis_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "1tb", "4 xb", "1.5gb", "gb", True])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_defaults_without_a_file_or_flags(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = load_config(["--config", str(empty)])
    for o in OPTIONS:
        assert getattr(config, o.name) == o.default


def test_the_shipped_yaml_loads_and_states_every_option():
    path = default_config_path()
    assert path is not None and path.endswith("conf/damselfly.yaml")
    data = load_yaml(path)
    assert sorted(data) == sorted(o.name for o in OPTIONS)
    config = load_config(["--config", path])
    assert config.port == 6379 and config.proto_max_bulk_len == 512 * 1024**2


def test_yaml_values_are_parsed(yaml_file):
    path = yaml_file(
        "port: 7000\n"
        "maxmemory: 4gb\n"
        "proto-max-bulk-len: 1mb\n"         # Redis's spelling
        "maxmemory_policy: ALLKEYS-LRU\n"
        "proactor_threads: '3'\n"
        "requirepass: s3cret\n"
        "cluster_mode: sharded\n")
    config = load_config(["--config", path])
    assert config.port == 7000
    assert config.maxmemory == 4 * 1024**3
    assert config.proto_max_bulk_len == 1024**2
    assert config.maxmemory_policy == "allkeys-lru"
    assert config.proactor_threads == 3
    assert config.requirepass == "s3cret"
    assert config.cluster_mode == "sharded"


def test_flags_override_yaml_in_every_spelling(yaml_file):
    path = yaml_file("port: 7000\nmaxmemory: 4gb\nproactor_threads: 3\nhz: 20\n")
    config = load_config(["--config", path, "--port=7100", "--maxmemory", "512mb",
                          "--proactor-threads", "5", "--hz=30"])
    assert (config.port, config.maxmemory, config.proactor_threads, config.hz) == (
        7100, 512 * 1024**2, 5, 30)
    # Keys not given as flags keep the file's values.
    config = load_config(["--config", path, "--proactor_threads=8"])
    assert (config.port, config.proactor_threads, config.hz) == (7000, 8, 20)


def test_every_option_is_a_flag_in_both_spellings(tmp_path):
    empty = tmp_path / "e.yaml"
    empty.write_text("")
    parser = build_arg_parser()
    for o in OPTIONS:
        flags = {"--" + o.name, "--" + o.name.replace("_", "-")}
        for flag in flags:
            assert flag in parser._option_string_actions, flag
        # The hyphenated flag and the YAML key land on the same option.
        value = {"int": "7", "size": "2kb", "bool": "yes", "str": "x",
                 "enum": (o.choices or ("",))[-1], "limits": "normal 1 2 3",
                 "events": "KEA"}[o.kind]
        hyphen = "--" + o.name.replace("_", "-")
        config = load_config(["--config", str(empty), "%s=%s" % (hyphen, value)])
        assert config.values[o.name] == o.parse(value)


@pytest.mark.parametrize("yaml_text,message", [
    ("bogus_key: 1\n", "unknown configuration key 'bogus_key'"),
    ("port: 99999\n", "invalid value 99999 for 'port': expected an integer from 0 to 65535"),
    ("port: 7000.5\n", "invalid value 7000.5 for 'port'"),
    ("port: yes\n", "invalid value True for 'port'"),
    ("maxmemory: lots\n", "invalid value 'lots' for 'maxmemory'"),
    ("maxmemory_policy: lru\n", "expected one of noeviction, allkeys-lru"),
    ("cluster_mode: maybe\n", "invalid value 'maybe' for 'cluster_mode'"),
    ("proxy_workers: 0\n", "invalid value 0 for 'proxy_workers'"),
    ("- a\n- b\n", "must be a mapping of key: value"),
    ("port: [1\n", "is not valid YAML: expected ',' or ']'"),
])
def test_bad_yaml_is_one_clear_line(yaml_file, yaml_text, message):
    path = yaml_file(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(["--config", path])
    text = str(info.value)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize("argv,message", [
    (["--bogus", "1"], "unrecognized arguments: --bogus 1"),
    (["--port", "abc"], "invalid value 'abc' for 'port'"),
    (["--port"], "argument --port: expected one argument"),
    (["--maxmem", "5"], "unrecognized arguments: --maxmem 5"),  # no abbreviations
    (["--maxmemory=4xb"], "invalid value '4xb' for 'maxmemory'"),
    (["--config", "/nonexistent/damselfly.yaml"], "cannot read config file"),
])
def test_bad_flags_are_one_clear_line(argv, message):
    with pytest.raises(ConfigError) as info:
        load_config(argv)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_option_lookup_accepts_both_spellings_and_case():
    assert option("proto-max-bulk-len") is option("proto_max_bulk_len")
    assert option("MAXMEMORY") is option("maxmemory")
    assert option("nope") is None


def test_config_get_matching_uses_redis_names():
    config = Config({"maxmemory": 1024, "maxmemory_policy": "allkeys-lfu"})
    assert config.get_matching("maxmemory") == {"maxmemory": "1024"}
    got = config.get_matching("maxmemory*")
    assert got == {"maxmemory": "1024", "maxmemory-policy": "allkeys-lfu",
                   "maxmemory-samples": "5"}
    assert config.get_matching("proto-max-bulk-len") == {"proto-max-bulk-len": str(512 * 1024**2)}
    assert config.get_matching("proto_max_bulk_len") == {"proto-max-bulk-len": str(512 * 1024**2)}
    # Options Redis has not are shown under our own name.
    assert config.get_matching("proactor_threads") == {"proactor_threads": "0"}
    assert config.get_matching("nothing-like-this") == {}


def test_config_set_validates():
    config = Config()
    config.set("maxmemory", "10mb")
    assert config.maxmemory == 10 * 1024**2
    config.set("maxmemory-policy", "volatile-ttl")
    assert config.maxmemory_policy == "volatile-ttl"
    with pytest.raises(ConfigError):
        config.set("maxmemory", "-1")
    with pytest.raises(ConfigError):
        config.set("no-such-option", "1")
    with pytest.raises(AttributeError):
        config.no_such_option  # noqa: B018


# -- options accepted but not implemented yet ---------------------------------------

NOT_IMPLEMENTED: set = set()  # issue 12 implemented the last two (maxmemory*)


def test_options_not_implemented_yet_are_marked():
    """The list to shrink as features land: each flips its option's flag."""
    assert {o.name for o in OPTIONS if not o.implemented} == NOT_IMPLEMENTED


def test_setting_an_option_not_implemented_warns_and_acts_as_its_default():
    from cluster.config import not_implemented_warning

    config = load_config(["--maxmemory_policy", "allkeys-lru", "--maxmemory", "1mb"])
    assert config.maxmemory_policy == "allkeys-lru" and config.maxmemory == 1024**2  # kept
    assert config.effective("maxmemory_policy") == "allkeys-lru"  # implemented: in force
    assert config.effective("maxmemory") == 1024**2
    assert config.effective("port") == config.port
    assert config.not_implemented_warnings() == []
    missing = Option("someday", "int", 0, "A feature to come.", implemented=False)
    assert not_implemented_warning(missing, 5) == "someday is accepted but not implemented yet"
    assert not_implemented_warning(missing, 0) is None  # the default asks nothing
    assert not_implemented_warning(option("hz"), 50) is None  # implemented


def test_defaults_and_the_shipped_yaml_warn_of_nothing():
    assert Config().not_implemented_warnings() == []
    assert load_config([]).not_implemented_warnings() == []


def test_help_says_which_options_are_not_implemented():
    text = " ".join(build_arg_parser().format_help().split())  # undo line wrapping
    assert text.count("Accepted but not implemented yet.") == len(NOT_IMPLEMENTED)


def test_config_get_patterns_are_redis_globs_in_bounded_time():
    """CONFIG GET matches with Redis's glob (nocase, ``[^..]``), never by a
    backtracking regex: a pathological pattern answers at once."""
    import time

    config = Config()
    assert set(config.get_matching("MAXMEMORY*")) == {"maxmemory", "maxmemory-policy",
                                                            "maxmemory-samples"}
    assert "maxmemory" not in config.get_matching("maxmemory[^y]*")
    assert "maxmemory-policy" in config.get_matching("maxmemor[a-z]-*")
    t0 = time.perf_counter()
    assert config.get_matching("a*" * 30 + "b") == {}
    assert config.get_matching("*?" * 30 + "x") == {}
    assert time.perf_counter() - t0 < 0.5


def test_command_list_pattern_is_a_redis_glob():
    from cluster.command_docs import command_reply

    names = command_reply([b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"GET[^a-z]*"])
    assert names == []
    names = set(command_reply([b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"GET*"]))
    assert {b"get", b"getex", b"getdel", b"getrange", b"getset"} <= names
    assert command_reply([b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"a*" * 30 + b"b"]) == []
