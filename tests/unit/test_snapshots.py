"""The BGSAVE loop of ShardSnapshots (shardnode/snapshots.py): between its
steps it rests while the shard serves commands (one in the last
SERVING_WINDOW_S), so the save leaves the CPU to the proxy and the clients,
and goes on at once while it serves nobody."""

import asyncio
from types import SimpleNamespace

from shardnode import snapshots


class _Save:
    """A save whose ``step`` finishes on call ``steps``; ``during(i)`` runs
    inside call i (what happens while that step's turn goes on)."""

    keys_saved = bytes_written = keys_ahead = peak_early_bytes = 0

    def __init__(self, steps, during):
        self.steps, self.during = steps, during
        self.budgets = []

    def step(self, budget):
        self.during(len(self.budgets))
        self.budgets.append(budget)
        return len(self.budgets) == self.steps

    def close(self):
        pass


def _run_bgsave(steps, commands_at, monkeypatch, seconds_per_step=0.001, jump=None):
    """The waits between steps (seconds each), and the shard's state after.
    A command is served during each step in ``commands_at``; each step takes
    ``seconds_per_step`` of the save's clock, and ``jump`` = (step, seconds)
    adds a pause before that step."""
    server = SimpleNamespace(
        stat_commands=0, set_write_check=lambda on: None,
        keyspace=SimpleNamespace(dirty=0, journal=SimpleNamespace(sync=lambda: None)),
        aof=SimpleNamespace(rewrite_scheduled=False))
    state = snapshots.ShardSnapshots(server)
    shard_file = SimpleNamespace(writer=SimpleNamespace(pending=0, error=None),
                                 sync_and_complete=lambda: True)
    clock = [100.0]
    monkeypatch.setattr(snapshots, "_now", lambda: clock[0])
    waits = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay):
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(snapshots.asyncio, "sleep", recording_sleep)

    def during(step):
        if jump is not None and step == jump[0]:
            clock[0] += jump[1]
        clock[0] += seconds_per_step
        if step in commands_at:
            server.stat_commands += 1

    save = _Save(steps, during)
    state.running = save
    asyncio.run(state._background(save, shard_file))
    assert save.budgets == [snapshots.STEP_BUDGET_S] * steps
    return waits, state


def test_bgsave_rests_while_the_shard_serves_commands(monkeypatch):
    rest = snapshots.STEP_REST_S
    assert rest > 0
    waits, state = _run_bgsave(6, {0, 1, 2}, monkeypatch)
    # Steps 3 and 4 saw no command, but the last was a few ms ago: still serving.
    assert waits == [rest] * 5
    assert state.running is None and state.last_ok and state.saves == 1


def test_bgsave_goes_flat_out_once_no_command_came_for_the_window(monkeypatch):
    rest = snapshots.STEP_REST_S
    waits, _ = _run_bgsave(6, {0}, monkeypatch, jump=(3, snapshots.SERVING_WINDOW_S))
    assert waits == [rest, rest, rest, 0, 0]
    waits, _ = _run_bgsave(6, {0, 4}, monkeypatch, jump=(3, snapshots.SERVING_WINDOW_S))
    assert waits == [rest, rest, rest, 0, rest]


def test_bgsave_of_an_idle_shard_never_rests(monkeypatch):
    waits, state = _run_bgsave(5, set(), monkeypatch)
    assert waits == [0, 0, 0, 0]
    assert state.last_ok and state.saves == 1
