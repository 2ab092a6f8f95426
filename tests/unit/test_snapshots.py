"""The BGSAVE loop of ShardSnapshots (shardnode/snapshots.py): between its
steps it rests while the shard serves commands, so the save leaves the CPU
to the proxy and the clients, and goes on at once while it serves nobody."""

import asyncio
from types import SimpleNamespace

from shardnode import snapshots


class _Save:
    """A save whose ``step`` finishes on call ``steps``; ``during(i)`` runs
    inside call i (what the shard serves while that step's turn goes on)."""

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


def _run_bgsave(steps, during, monkeypatch):
    """The waits between steps (seconds each), and the shard's state after."""
    server = SimpleNamespace(
        stat_commands=0, set_write_check=lambda on: None,
        keyspace=SimpleNamespace(dirty=0, journal=SimpleNamespace(sync=lambda: None)),
        aof=SimpleNamespace(rewrite_scheduled=False))
    state = snapshots.ShardSnapshots(server)
    shard_file = SimpleNamespace(writer=SimpleNamespace(pending=0, error=None),
                                 sync_and_complete=lambda: True)
    waits = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay):
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(snapshots.asyncio, "sleep", recording_sleep)

    def serve(step):
        if during(step):
            server.stat_commands += 1

    save = _Save(steps, serve)
    state.running = save
    asyncio.run(state._background(save, shard_file))
    assert save.budgets == [snapshots.STEP_BUDGET_S] * steps
    return waits, state


def test_bgsave_rests_after_the_steps_during_which_commands_were_served(monkeypatch):
    waits, state = _run_bgsave(6, lambda step: step < 3, monkeypatch)
    rest = snapshots.STEP_REST_S
    assert rest > 0
    assert waits == [rest, rest, rest, 0, 0]
    assert state.running is None and state.last_ok and state.saves == 1


def test_bgsave_of_an_idle_shard_never_rests(monkeypatch):
    waits, state = _run_bgsave(5, lambda step: False, monkeypatch)
    assert waits == [0, 0, 0, 0]
    assert state.last_ok and state.saves == 1
