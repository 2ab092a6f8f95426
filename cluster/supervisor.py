"""The supervisor: starts the shards and the proxy workers, and watches them.

The proxy workers start with the shards, not after them: a worker connects
its shard links first (retrying until each shard listens) and only then
listens itself, so nothing is served earlier, and its interpreter's start-up
overlaps the shards' (a start took ~0.7 s less on a loaded 2-core box).

It computes nothing the children cannot compute themselves: each child gets
the resolved configuration (JSON in DAMSELFLY_CONFIG) and the internal secret
(DAMSELFLY_SECRET) and derives the same topology.  A child that dies is
restarted (a shard within a second); SIGTERM/SIGINT stop everything (SHUTDOWN,
sent to any child, sends SIGTERM here: DAMSELFLY_SUPERVISOR_PID), and the
children are bound to the supervisor's life (PR_SET_PDEATHSIG) so that none
outlives it even if it is killed outright.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from cluster.config import Config
from cluster.snapshot_id import new_snapshot_id
from cluster.topology import Topology

log = logging.getLogger("damselfly")

PR_SET_PDEATHSIG = 1
STOP_GRACE = 3.0
# How long a stopping shard may take to save its snapshot file.
SAVE_GRACE = 600.0
# A shard exits with this code when the data in `dir` exists but cannot be
# read (shardnode/rdb/snapshot.py): restarting it would fail the same way,
# and starting without it would serve (and later save) an empty dataset, so
# the whole server stops with that error.  The shard first writes the error
# to the file DAMSELFLY_FATAL_FILE names (with its index appended), so the
# supervisor's own exit message can say it.
EXIT_UNREADABLE_DATA = 3


def fatal_file(index: int) -> str | None:
    """Where shard ``index`` leaves the error it exits with (None: nowhere)."""
    base = os.environ.get("DAMSELFLY_FATAL_FILE")
    return "%s.%d" % (base, index) if base else None


def saving_file(index: int) -> str | None:
    """Shard ``index`` creates this file while it saves on its way out, so
    the supervisor waits for it longer than :data:`STOP_GRACE`."""
    base = os.environ.get("DAMSELFLY_FATAL_FILE")
    return "%s.%d.saving" % (base, index) if base else None


def _bind_to_parent(parent: int):  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # pragma: no cover - not glibc
        pass
    if os.getppid() != parent:
        os._exit(1)  # the supervisor died before prctl: nobody would tell us


def _has_listener(pid: int, port: int):
    """Whether process ``pid`` has a TCP socket listening on ``port``
    (None where /proc cannot tell)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    # local address "ADDR:PORT" in hex, state 0A = LISTEN
                    if (fields[3] == "0A" and fields[9] in inodes
                            and int(fields[1].rsplit(":", 1)[1], 16) == port):
                        return True
        return False
    except OSError:
        return None


# A child that dies within YOUNG seconds of its start is restarted after a
# delay that doubles each time (up to MAX_BACKOFF), so a crash at start-up
# does not become a fork loop; one that ran longer is restarted at once.
YOUNG = 2.0
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0


def restart_delay(child, now: float) -> float:
    if now - child.started_at >= YOUNG:
        child.backoff = 0.0
    else:
        child.backoff = min(MAX_BACKOFF, child.backoff * 2 or FIRST_BACKOFF)
    return child.backoff


class Child:
    def __init__(self, kind: str, index: int, argv: list, port: int | None):
        self.kind = kind
        self.index = index
        self.argv = argv
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.started_at = 0.0
        self.backoff = 0.0  # grows while the child keeps dying young
        self.restart_at = None  # when a dead child is due to be spawned again

    @property
    def label(self):
        return "%s %d" % (self.kind, self.index)


class Supervisor:
    def __init__(self, config: Config):
        self.config = config
        self.topology = Topology(config)
        # The internal secret: DAMSELFLY_SECRET from the environment if set (so a
        # test or an operator can reach the internal commands), else random.
        self.secret = os.environ.get("DAMSELFLY_SECRET") or secrets.token_hex(16)
        self.env = dict(os.environ)
        self.env["DAMSELFLY_CONFIG"] = json.dumps(config.to_dict())
        self.env["DAMSELFLY_SECRET"] = self.secret
        # Whoever receives SHUTDOWN signals this process (cluster.shutdown).
        self.env["DAMSELFLY_SUPERVISOR_PID"] = str(os.getpid())
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.env["PYTHONPATH"] = root + os.pathsep + self.env.get("PYTHONPATH", "")
        py = sys.executable
        self.shards = [
            Child("shard", s.index, [py, "-m", "shardnode", "--index", str(s.index)], s.port)
            for s in self.topology.shards
        ]
        self.proxies = [
            Child("proxy", w, [py, "-m", "proxy", "--worker", str(w)], None)
            for w in range(config.proxy_workers)
        ]
        self.stopping = False
        self.stop_signal = signal.SIGTERM  # what the shards get (see stop)
        # The snapshot id every shard uses when it saves as it stops.
        self.env["DAMSELFLY_SHUTDOWN_SNAPSHOT"] = new_snapshot_id()
        self.fatal_dir = tempfile.mkdtemp(prefix="damselfly-")
        self.env["DAMSELFLY_FATAL_FILE"] = os.path.join(self.fatal_dir, "shard")

    # -- lifecycle ---------------------------------------------------------

    def spawn(self, child: Child) -> None:
        child.started_at = time.monotonic()
        child.restart_at = None
        parent = os.getpid()
        child.proc = subprocess.Popen(
            child.argv, env=self.env, preexec_fn=lambda: _bind_to_parent(parent),
            stdin=subprocess.DEVNULL,
        )

    def wait_listening(self, child: Child, timeout: float = 10.0) -> bool:
        host = self.topology.shards[0].host
        port = child.port if child.port is not None else self.config.port
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                return False
            # Look for this process's own listening socket: a connection that
            # succeeds may have reached another proxy worker (they share the
            # port), or whatever else holds the port while the child fails.
            listening = _has_listener(child.proc.pid, port)
            if listening is not None:
                if listening:
                    return True
                time.sleep(0.02)
                continue
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def start(self) -> None:
        for child in self.shards + self.proxies:
            self.spawn(child)
        for child in self.shards:
            if not self.wait_listening(child):
                self.stop()
                self.exit_if_data_unreadable()
                raise SystemExit("damselfly: %s did not start on port %d" % (child.label, child.port))
        for child in self.proxies:
            if not self.wait_listening(child):
                self.stop()
                self.exit_if_data_unreadable()  # the proxy fails when the shards went
                raise SystemExit("damselfly: %s did not start on port %d"
                                 % (child.label, self.config.port))
        log.info(
            "damselfly ready: proxy on %s:%d (%d worker%s), %d shard%s on ports %d-%d, cluster_mode=%s",
            self.config.bind, self.config.port, len(self.proxies),
            "" if len(self.proxies) == 1 else "s", len(self.shards),
            "" if len(self.shards) == 1 else "s",
            self.shards[0].port, self.shards[-1].port, self.config.cluster_mode)

    def watch(self) -> None:
        """Restart children that die, until asked to stop."""
        while not self.stopping:
            for child in self.shards + self.proxies:
                if self.stopping:
                    break
                if child.restart_at is not None:
                    if time.monotonic() >= child.restart_at:
                        self.spawn(child)
                elif child.proc is not None and child.proc.poll() is not None:
                    if self.stopping:
                        break  # it died of the same signal that stops us
                    code = child.proc.returncode
                    if child.kind == "shard" and code == EXIT_UNREADABLE_DATA:
                        self.stop()
                        self.exit_if_data_unreadable()
                    child.restarts += 1
                    delay = restart_delay(child, time.monotonic())
                    log.warning("%s exited with %s; restarting%s", child.label, code,
                                " in %.1fs" % delay if delay else "")
                    child.restart_at = time.monotonic() + delay
                    if not delay:
                        self.spawn(child)
            time.sleep(0.05)

    def exit_if_data_unreadable(self) -> None:
        """Exit with the error of a shard that could not read the data in
        ``dir``, if one did (call after :meth:`stop`)."""
        for child in self.shards:
            if child.proc is None or child.proc.poll() != EXIT_UNREADABLE_DATA:
                continue
            try:
                with open(os.path.join(self.fatal_dir, "shard.%d" % child.index)) as f:
                    reason = f.read().strip()
            except OSError:
                reason = "see its log"
            log.critical("%s cannot load the data in %s: %s; not starting (fix or move "
                         "that file)", child.label, os.path.abspath(self.config.dir), reason)
            raise SystemExit("damselfly: %s cannot load the data in %s: %s"
                             % (child.label, os.path.abspath(self.config.dir), reason))

    def stop(self) -> None:
        """Stop every child: the proxies first with SIGTERM, the shards with
        the signal this process got (SIGUSR1: save, SIGUSR2: do not,
        SIGTERM: as configured, see cluster/shutdown.py).  Each gets
        :data:`STOP_GRACE`; a shard writing its final snapshot (it leaves
        :func:`saving_file`) gets up to :data:`SAVE_GRACE`."""
        self.stopping = True
        shard_signal = self.stop_signal
        children = [c for c in self.proxies + self.shards if c.proc and c.proc.poll() is None]
        for child in children:
            try:
                child.proc.send_signal(signal.SIGTERM if child.kind == "proxy" else shard_signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        save_deadline = time.monotonic() + SAVE_GRACE
        for child in children:
            while True:
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                    break
                except subprocess.TimeoutExpired:
                    marker = saving_file(child.index) if child.kind == "shard" else None
                    if marker and os.path.exists(marker) and time.monotonic() < save_deadline:
                        deadline = min(save_deadline, time.monotonic() + 1.0)
                        continue  # writing its final snapshot: let it finish
                    child.proc.kill()
                    child.proc.wait()
                    break


def run(config: Config) -> int:
    supervisor = Supervisor(config)

    def on_signal(signum, frame):
        if not supervisor.stopping:  # the first request says how to stop
            supervisor.stop_signal = signal.SIGTERM if signum == signal.SIGINT else signum
        supervisor.stopping = True

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, on_signal)
    for warning in config.not_implemented_warnings():
        log.warning(warning)
    from cluster.cgroups import maxmemory_warnings

    for warning in maxmemory_warnings(config.maxmemory):
        log.warning(warning)
    try:
        supervisor.start()
        try:
            supervisor.watch()
        finally:
            supervisor.stop()
            log.info("damselfly stopped")
    finally:
        shutil.rmtree(supervisor.fatal_dir, ignore_errors=True)
    return 0
