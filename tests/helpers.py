"""Test support: real processes on free ports, and a raw RESP client.

- :class:`DamselflyProcess` starts the real ``damselfly`` supervisor (which
  starts shards and proxy workers) on a free block of ports in a temp dir and
  stops it -- with every child -- even when a test fails.
- :class:`RedisProcess` starts a real ``redis-server`` the same way (or a
  testcontainers Redis when the binary is absent and Docker is present).
- :class:`RawClient` sends commands and returns decoded replies with errors as
  values (``Err`` instances), so replies from two servers compare exactly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import hiredis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Err(str):
    """An error reply, compared by text."""

    def __repr__(self):
        return "Err(%s)" % str.__repr__(self)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _listening_port_range() -> tuple[int, int]:
    """Ports no outgoing connection takes: below the kernel's ephemeral range.

    A port picked from inside that range can be free when checked and then
    become the local end of some connection (the server's own shard links
    included) before the server binds it: EADDRINUSE at start, seen in CI.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 10000 >= 5000:
        return 10000, low - 1
    return high + 1, 65535


def _this_workers_port_range() -> tuple[int, int]:
    """Under pytest-xdist, this worker's own slice of the listening range:
    two workers walking one range check a port free at the same moment and
    both bind it."""
    low, high = _listening_port_range()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if count > 1 and worker.startswith("gw") and worker[2:].isdigit():
        size = (high - low + 1) // count
        low += int(worker[2:]) % count * size
        high = low + size - 1
    return low, high


_PORT_LOW, _PORT_HIGH = _this_workers_port_range()
_next_base = [_PORT_LOW + (os.getpid() * 37) % (_PORT_HIGH - _PORT_LOW - 100)]


def free_port_block(n: int) -> int:
    """A base port such that base .. base+n-1 are all free right now."""
    for _ in range(2000):
        base = _next_base[0]
        _next_base[0] = base + n + 1 if base + 2 * n < _PORT_HIGH else _PORT_LOW
        if all(_port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError("no free port block")


def wait_port(port: int, timeout: float = 15.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("port %d did not open" % port)


class DamselflyProcess:
    """The real server: supervisor + shards + proxy workers."""

    def __init__(self, shards: int = 2, proxy_workers: int = 1, **options):
        self.shards = shards
        self.proxy_workers = proxy_workers
        self.options = options
        self.dir = tempfile.mkdtemp(prefix="damselfly-test-")
        self.port = free_port_block(shards + 1)
        self.shard_ports = [self.port + 1 + i for i in range(shards)]
        self.proc = None
        self.log_path = os.path.join(self.dir, "damselfly.log")

    def argv(self):
        args = [sys.executable, "-m", "cluster.cli",
                "--port", str(self.port), "--proactor_threads", str(self.shards),
                "--proxy_workers", str(self.proxy_workers), "--dir", self.dir,
                "--bind", "127.0.0.1"]
        for key, value in self.options.items():
            args += ["--" + key, str(value)]
        return args

    def start(self) -> "DamselflyProcess":
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.dir, start_new_session=True)
        try:
            wait_port(self.port, proc=self.proc)
            self.wait_ready()
        except Exception:
            log = self.log()  # before stop() removes the directory
            self.stop()
            raise RuntimeError("damselfly did not start:\n" + log)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until every shard answers through the proxy, and the supervisor
        has seen every proxy worker listen (the first one to listen already
        accepts connections on the shared port)."""
        deadline = time.monotonic() + timeout
        supervisor_logs_here = "logfile" not in self.options
        while time.monotonic() < deadline:
            try:
                with RawClient(self.port) as c:
                    if self.options.get("requirepass"):
                        c.call("AUTH", str(self.options["requirepass"]))
                    if c.call("DBSIZE") is not None and not isinstance(c.call("DBSIZE"), Err):
                        if not supervisor_logs_here or "damselfly ready" in self.log():
                            return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("shards not ready")

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def child_pids(self) -> list:
        """PIDs of the supervisor's children (shards, proxy workers)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the process group goes, whatever happened.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RedisProcess:
    """A reference redis-server (binary, else a testcontainers container)."""

    def __init__(self, *extra_args: str):
        """``extra_args`` go to the redis-server binary (``--requirepass pw``,
        ``--cluster-enabled yes`` ...); tests that pass any need the binary."""
        self.extra_args = extra_args
        self.proc = None
        self.container = None
        self.dir = tempfile.mkdtemp(prefix="redis-ref-")
        self.port = None
        self.host = "127.0.0.1"

    @staticmethod
    def available() -> bool:
        if shutil.which("redis-server"):
            return True
        try:
            import docker

            docker.from_env().ping()
            return True
        except Exception:
            return False

    def start(self) -> "RedisProcess":
        binary = shutil.which("redis-server")
        if binary:
            self.port = free_port_block(1)
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                 *self.extra_args],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            wait_port(self.port, proc=self.proc)
        else:
            if self.extra_args:
                raise RuntimeError("redis-server options need the redis-server binary")
            from testcontainers.redis import RedisContainer

            self.container = RedisContainer("redis:7.0").start()
            self.host = self.container.get_container_host_ip()
            self.port = int(self.container.get_exposed_port(6379))
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.container is not None:
            self.container.stop()
            self.container = None
        shutil.rmtree(self.dir, ignore_errors=True)


class RawClient:
    """A blocking RESP client that returns errors as :class:`Err` values."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = hiredis.Reader(replyError=Err)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self):
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.reader.feed(data)

    def call(self, *args):
        self.sock.sendall(encode(args))
        return self.read()

    def pipeline(self, commands) -> list:
        self.sock.sendall(b"".join(encode(c) for c in commands))
        return [self.read() for _ in commands]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def clients_on_both_workers(port: int, per_worker: int) -> list:
    """Connections to the proxy, ``per_worker`` on each of its two workers
    (``[worker 0's..., worker 1's...]``).  SO_REUSEPORT spreads connections by
    a hash of their addresses, so a handful can all land on one worker: open
    until each has its share."""
    kept = {0: [], 1: []}
    spare = []
    for _ in range(200):
        c = RawClient(port)
        w = c.call("CLIENT", "ID") >> 40  # a client id's high bits name its worker
        if len(kept[w]) < per_worker:
            kept[w].append(c)
        else:
            spare.append(c)
        if all(len(v) == per_worker for v in kept.values()):
            break
    for c in spare:
        c.close()
    assert all(len(v) == per_worker for v in kept.values()), "SO_REUSEPORT used one worker"
    return kept[0] + kept[1]


def encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def names_on_shard(shard: int, n: int, prefix: str = "k") -> list:
    """``n`` key names (prefix + number) whose slots the given shard of the
    2-shard ``server`` owns (slots below 8192 are shard 0's)."""
    from cluster.slots import key_slot

    out, i = [], 0
    while len(out) < n:
        name = "%s%d" % (prefix, i)
        if (key_slot(name.encode()) >= 8192) == bool(shard):
            out.append(name)
        i += 1
    return out


def run_threads(threads, timeout: float = 30.0) -> None:
    """Start the threads and wait for all; a thread still running is a hang."""
    import time as _time

    deadline = _time.monotonic() + timeout
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - _time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads still running: a hang"



AGAINST_REDIS = os.environ.get("DAMSELFLY_TESTS_AGAINST") == "redis"


@contextlib.contextmanager
def server_under_test(**options):
    """The server a test-first module exercises: damselfly (2 shards), or, with
    ``DAMSELFLY_TESTS_AGAINST=redis`` in the environment, a second real
    redis-server standing in for it.  Tests written before their feature
    lands run that way to show that their expectations are Redis's own."""
    if AGAINST_REDIS:
        proc = RedisProcess().start()
        try:
            yield proc
        finally:
            proc.stop()
    else:
        with DamselflyProcess(shards=2, **options) as proc:
            yield proc


def read_raw_replies(client: RawClient, n: int) -> bytes:
    """The exact bytes of the next ``n`` replies on ``client``, read no further
    than their end: RESP3 shapes (``_`` against ``*-1``) compare where the
    decoded values would not tell them apart."""
    counter = hiredis.Reader(replyError=Err)
    data = b""
    seen = 0
    while seen < n:
        chunk = client.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
        counter.feed(chunk)
        while seen < n and counter.gets() is not False:
            seen += 1
    return data


def start_with_secret(secret: str, **options) -> DamselflyProcess:
    """A damselfly whose internal secret the test knows (DF.* commands on shard ports)."""
    env_before = os.environ.get("DAMSELFLY_SECRET")
    os.environ["DAMSELFLY_SECRET"] = secret
    try:
        return DamselflyProcess(**options).start()
    finally:
        if env_before is None:
            del os.environ["DAMSELFLY_SECRET"]
        else:
            os.environ["DAMSELFLY_SECRET"] = env_before


JS_DIR = os.path.join(ROOT, "tests", "e2e", "js")


def run_node_script(script: str, *args, timeout: float = 60):
    """Run ``tests/e2e/js/<script>`` with node (ioredis installed on first
    use); returns the JSON its last output line holds."""
    import json

    from tests.reference import missing_reference

    node = shutil.which("node")
    if node is None:
        missing_reference("node is not installed (.ci/run installs it)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "ioredis")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=JS_DIR,
                       check=True, capture_output=True, timeout=300)
    out = subprocess.run([node, os.path.join(JS_DIR, script), *(str(a) for a in args)],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
