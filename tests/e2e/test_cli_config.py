"""The ``damselfly`` command as users run it: --help, mistakes (one line on
stderr, exit code 2, nothing started), and a real server configured from
YAML and flags whose CONFIG GET shows the values that won."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cluster.config import OPTIONS
from tests.reference import missing_reference
from tests.helpers import ROOT, DamselflyProcess, RawClient, free_port_block


def run_cli(*args, timeout=20):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cluster.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def test_help_lists_every_option_in_both_spellings():
    done = run_cli("--help")
    assert done.returncode == 0
    for o in OPTIONS:
        assert "--" + o.name in done.stdout, o.name
        if "_" in o.name:
            assert "--" + o.name.replace("_", "-") in done.stdout, o.name
    assert "--config" in done.stdout


def test_installed_script_is_the_same_cli():
    if shutil.which("damselfly") is None:
        missing_reference("the damselfly script is not installed (pip install -e .)")
    done = subprocess.run(["damselfly", "--help"], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and "--proactor_threads" in done.stdout


@pytest.mark.parametrize("yaml_text,flags,message", [
    ("bogus: 1\n", [], "unknown configuration key 'bogus'"),
    ("port: not-a-port\n", [], "invalid value 'not-a-port' for 'port'"),
    ("maxmemory: 12 parsecs\n", [], "invalid value '12 parsecs' for 'maxmemory'"),
    ("maxmemory_policy: sometimes\n", [], "expected one of noeviction"),
    ("port: [\n", [], "is not valid YAML"),
    ("", ["--nope", "1"], "unrecognized arguments: --nope 1"),
    ("", ["--port", "70000"], "invalid value '70000' for 'port'"),
    ("", ["--proactor_threads=many"], "invalid value 'many' for 'proactor_threads'"),
    ("", ["--cluster-mode", "galaxy"], "invalid value 'galaxy' for 'cluster_mode'"),
    ("", ["--port"], "argument --port: expected one argument"),
])
def test_mistakes_are_one_line_and_exit_code_2(tmp_path, yaml_text, flags, message):
    path = tmp_path / "damselfly.yaml"
    path.write_text(yaml_text)
    port = free_port_block(3)
    done = run_cli("--config", str(path), "--port=%d" % port, *flags)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("damselfly: ") and message in lines[0]


class SpelledProcess(DamselflyProcess):
    """Starts damselfly with Dragonfly's --flag=value and Redis's hyphens."""

    def __init__(self, config_path: str, **kw):
        super().__init__(shards=3, **kw)
        self.config_path = config_path

    def argv(self):
        return [sys.executable, "-m", "cluster.cli", "--config", self.config_path,
                "--port=%d" % self.port, "--proactor-threads=3", "--proxy_workers", "1",
                "--dir=" + self.dir, "--bind", "127.0.0.1", "--hz=25",
                "--maxmemory-policy", "volatile-lru"]


def test_real_server_takes_yaml_then_flags(tmp_path):
    path = tmp_path / "damselfly.yaml"
    path.write_text(
        "port: 1\n"                       # overridden by --port
        "hz: 5\n"                         # overridden by --hz=25
        "maxmemory: 4mb\n"
        "maxmemory_policy: allkeys-lru\n"  # overridden by --maxmemory-policy
        "proto-max-bulk-len: 1kb\n"
        "requirepass: ''\n")
    with SpelledProcess(str(path)) as server:
        with RawClient(server.port) as c:
            assert c.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"4194304"]
            assert c.call("CONFIG", "GET", "hz") == [b"hz", b"25"]
            assert c.call("CONFIG", "GET", "maxmemory-policy") == [
                b"maxmemory-policy", b"volatile-lru"]
            assert c.call("CONFIG", "GET", "proto-max-bulk-len") == [
                b"proto-max-bulk-len", b"1024"]
            assert c.call("CONFIG", "GET", "proactor_threads") == [b"proactor_threads", b"3"]
            # Three shards answer: a key in each third of the slots.
            for key in (b"bar", b"key:1", b"foo"):  # slots 5061, 6657, 12182
                assert c.call("SET", key, "v") == b"OK"
            assert c.call("DBSIZE") == 3
            # The limit is enforced on requests too.
            c.send_raw(b"*2\r\n$4\r\nECHO\r\n$1025\r\n")
            assert c.read() == "ERR Protocol error: invalid bulk length"
        assert "3 shards" in server.log()
