"""A fan-out that fails answers its client with an error and leaves no
half-created reply slot behind (the client would otherwise wait forever)."""

import asyncio

from cluster.commands import COMMANDS
from cluster.config import Config
from cluster.topology import Topology
from proxy import fanout as fanout_module
from proxy.client import ProxyClient
from proxy.worker import ProxyWorker


class FakeTransport:
    def __init__(self):
        self.written = []

    def get_extra_info(self, name):
        return ("127.0.0.1", 1)

    def write(self, data):
        self.written.append(data)

    def close(self):
        pass

    def pause_reading(self):
        pass


def test_failing_fanout_rolls_back_slots_and_replies_error(monkeypatch):
    async def scenario():
        config = Config({"port": 1, "proactor_threads": 2})
        worker = ProxyWorker(config, Topology(config), "secret")
        client = ProxyClient(worker)
        transport = FakeTransport()
        client.connection_made(transport)
        spec = COMMANDS["dbsize"]

        def broken(worker_, client_, spec_, args):
            client_.new_slot()  # created, then the merge setup fails
            raise KeyError("boom")

        monkeypatch.setitem(fanout_module.FANOUTS, spec.merge, broken)
        client.data_received(b"*1\r\n$6\r\nDBSIZE\r\n*1\r\n$4\r\nPING\r\n")
        await asyncio.sleep(0.05)  # let the per-turn flush run
        return client, transport

    client, transport = asyncio.run(scenario())
    out = b"".join(transport.written)
    assert out == b"-ERR internal error while running 'dbsize'\r\n+PONG\r\n"
    assert not client.queue
