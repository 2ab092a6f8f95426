"""A SORT whose BY/GET patterns name keys of both shards is atomic through
the proxy: it never sees half of a cross-shard MSET, and its STORE lands on
the destination's shard in the same step.

Each round the writer sets the weights w_1 .. w_6 (on both shards) in one
MSET to a shuffled set of values that all carry the round's number; every
SORT must see weights of one round only, in order.
"""

import random
import threading

from cluster.slots import key_slot
from tests.helpers import RawClient, names_on_shard, run_threads

SOURCE = names_on_shard(0, 1, "sortsrc")[0]
DEST = names_on_shard(1, 1, "sortdst")[0]
ELEMENTS = [str(i) for i in range(1, 7)]
ROUNDS = 150


def test_weights_span_both_shards():
    assert {key_slot(b"w_" + e.encode()) >= 8192 for e in ELEMENTS} == {False, True}


def test_sort_never_sees_half_a_cross_shard_mset(server, raw):
    raw.call("RPUSH", SOURCE, *ELEMENTS)
    raw.call("MSET", *[w for e in ELEMENTS for w in ("w_" + e, "0")])
    seen = []
    errors = []
    done = threading.Event()

    def writer():
        client = RawClient(server.port)
        rng = random.Random(7)
        for round_no in range(1, ROUNDS + 1):
            values = list(range(len(ELEMENTS)))
            rng.shuffle(values)
            args = []
            for e, v in zip(ELEMENTS, values):
                args += ["w_" + e, str(round_no * 100 + v)]
            client.call("MSET", *args)
        done.set()
        client.close()

    def sorter(store: bool):
        client = RawClient(server.port)
        while not done.is_set():
            if store:
                replies = client.pipeline([("SORT", SOURCE, "BY", "w_*", "GET", "w_*",
                                            "STORE", DEST), ("LRANGE", DEST, "0", "-1")])
                weights = replies[1]
            else:
                weights = client.call("SORT", SOURCE, "BY", "w_*", "GET", "w_*", "GET", "#")[::2]
            numbers = [int(w) for w in weights]
            if len({n // 100 for n in numbers}) != 1 or numbers != sorted(numbers):
                errors.append(weights)
            seen.append(numbers[0] // 100)
        client.close()

    run_threads([threading.Thread(target=writer), threading.Thread(target=sorter, args=(False,)),
                 threading.Thread(target=sorter, args=(True,))], timeout=60)
    assert not errors, errors[:3]
    assert len(set(seen)) > 3  # the sorts did run between the writes
