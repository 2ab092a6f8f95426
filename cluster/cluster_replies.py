"""What a cluster-aware client is told: CLUSTER replies, built once for proxy and shard.

A :class:`ClusterView` is the list of nodes one connection is shown, computed
from the topology, the ``cluster_mode`` and the address that connection
reached.  The reply builders below turn a view into Redis 7's exact reply
shapes (fields, order, types; RESP2 and RESP3 come from the encoder), and
:func:`cluster_handlers` binds them to the command table for either side, so
the proxy and every shard answer the topology questions the same way.

Views, by ``cluster_mode``:

- ``emulated``: one node, the proxy, owning 0-16383 at the address the client
  reached (``cluster_announce_ip`` / ``announce_port`` override it).  A shard
  asked directly tells the same story, with the proxy's configured port.
- ``sharded``: every shard as a master with its slot range and own port.  The
  proxy is not a node of its own: asked through the proxy, the view is shard
  0's (``myself`` is shard 0, since Lettuce needs a ``myself`` line from
  whatever node it asks).  Listing the proxy as a slot-less master would make
  every "all masters" fan-out (DBSIZE, KEYS, SCAN from Lettuce or
  ``redis-cli --cluster``) count the whole keyspace twice, as the proxy sees
  every shard's keys.  The address is ``cluster_announce_ip``, else the one
  the client reached: every process of one damselfly shares the host, so that
  address reaches them all.
"""

from __future__ import annotations

import time
from functools import lru_cache

from cluster import errors
from cluster.args import parse_int
from cluster.commands.cluster_cmds import LAYOUT_SUBCOMMANDS
from cluster.errors import CommandError
from cluster.resp import Verbatim
from cluster.slots import SLOT_COUNT, key_slot

CLUSTER_BUS_OFFSET = 10000  # Redis's default cluster bus port: port + 10000


class ClusterNode:
    __slots__ = ("node_id", "shard_id", "ip", "port", "slots", "epoch")

    def __init__(self, node_id, shard_id, ip, port, slots, epoch):
        self.node_id = node_id
        self.shard_id = shard_id
        self.ip = ip
        self.port = port
        self.slots = slots  # ((start, end), ...) inclusive
        self.epoch = epoch


class ClusterView:
    """The nodes one connection is shown, and which of them it talks to."""

    __slots__ = ("nodes", "myself")

    def __init__(self, nodes, myself):
        self.nodes = nodes
        self.myself = nodes[myself]


@lru_cache(maxsize=256)
def cluster_view(topology, me, local_ip: str, local_port: int) -> ClusterView:
    """The view for a connection that reached ``local_ip:local_port``.

    ``me`` is None on the proxy, else the shard's index.  Cached: a server
    sees few distinct local addresses.
    """
    config = topology.config
    ip = topology.announced_ip(local_ip)
    if config.cluster_mode == "emulated":
        proxy_port = config.announce_port or (local_port if me is None else config.port)
        proxy = ClusterNode(topology.proxy_node_id, topology.proxy_shard_id, ip, proxy_port,
                            ((0, SLOT_COUNT - 1),), 0)
        return ClusterView([proxy], 0)
    nodes = [ClusterNode(s.node_id, topology.shard_id(s), ip, s.port, (s.slots,), s.index + 1)
             for s in topology.shards]
    return ClusterView(nodes, 0 if me is None else me)


# -- reply builders (pure: a view in, a reply value out) ------------------------

def _node_entry(node) -> list:
    # Redis 7 adds a fourth element: a map of extra networking metadata.
    return [node.ip.encode(), node.port, node.node_id.encode(), {}]


def cluster_slots_reply(view) -> list:
    """CLUSTER SLOTS: [start, end, [ip, port, id, {}]] per range, by start slot."""
    ranges = sorted((start, end, node) for node in view.nodes for start, end in node.slots)
    return [[start, end, _node_entry(node)] for start, end, node in ranges]


def cluster_shards_reply(view) -> list:
    """CLUSTER SHARDS: per shard a map of its slot pairs and its nodes."""
    shards = []
    for node in view.nodes:
        ip = node.ip.encode()
        shards.append({
            b"slots": [bound for pair in node.slots for bound in pair],
            b"nodes": [{
                b"id": node.node_id.encode(),
                b"port": node.port,
                b"ip": ip,
                b"endpoint": ip,
                b"role": b"master",
                b"replication-offset": 0,
                b"health": b"online",
            }],
        })
    return shards


def _bus_port(port: int) -> int:
    bus = port + CLUSTER_BUS_OFFSET
    return bus if bus < 65536 else 0


def cluster_nodes_reply(view, now_ms: int) -> Verbatim:
    """CLUSTER NODES: Redis's exact line format, every line ending in "\\n"."""
    lines = []
    for node in view.nodes:
        myself = node is view.myself
        ranges = "".join(" %d-%d" % r if r[0] != r[1] else " %d" % r[0] for r in node.slots)
        lines.append("%s %s:%d@%d %s - 0 %d %d connected%s\n" % (
            node.node_id, node.ip, node.port, _bus_port(node.port),
            "myself,master" if myself else "master",
            0 if myself else now_ms, node.epoch, ranges))
    return Verbatim("".join(lines).encode())


def cluster_info_reply(view) -> Verbatim:
    """CLUSTER INFO: state and sizes; no gossip, so no message counters but totals."""
    fields = (
        ("cluster_state", "ok"),
        ("cluster_slots_assigned", SLOT_COUNT),
        ("cluster_slots_ok", SLOT_COUNT),
        ("cluster_slots_pfail", 0),
        ("cluster_slots_fail", 0),
        ("cluster_known_nodes", len(view.nodes)),
        ("cluster_size", sum(1 for node in view.nodes if node.slots)),
        ("cluster_current_epoch", max(node.epoch for node in view.nodes)),
        ("cluster_my_epoch", view.myself.epoch),
        ("cluster_stats_messages_sent", 0),
        ("cluster_stats_messages_received", 0),
        ("total_cluster_links_buffer_limit_exceeded", 0),
    )
    return Verbatim("".join("%s:%s\r\n" % field for field in fields).encode())


CLUSTER_HELP = (
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "MYSHARDID",
    "    Return the node's shard id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@cport> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas (damselfly's nodes have none).",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
)


# -- argument parsing shared by both sides ----------------------------------------

def parse_slot(raw: bytes, error: str = errors.INVALID_SLOT) -> int:
    slot = parse_int(raw)
    if not 0 <= slot < SLOT_COUNT:
        raise CommandError(error)
    return slot


def parse_getkeysinslot(args) -> tuple:
    """(slot, count) of CLUSTER GETKEYSINSLOT, checked as Redis does."""
    slot = parse_int(args[2])
    count = parse_int(args[3])
    if count < 0 or not 0 <= slot < SLOT_COUNT:
        raise CommandError(errors.INVALID_SLOT_OR_COUNT)
    return slot, count


# -- handlers ----------------------------------------------------------------------

def local_address(conn) -> tuple:
    """(ip, port) this connection reached, from the session's ``laddr``."""
    ip, _, port = conn.laddr.rpartition(":")
    return ip, int(port) if port.isdigit() else 0


def cluster_handlers(me_of) -> dict:
    """Spec name -> handler(conn, args) for the topology commands.

    ``me_of(conn)`` says which node answers: None for the proxy, a shard's
    index for a shard.  COUNTKEYSINSLOT and GETKEYSINSLOT need the data and
    are bound by each side itself.
    """

    def view_of(conn):
        topology = conn.server.topology
        if topology.config.cluster_mode == "off":
            raise CommandError(errors.CLUSTER_DISABLED)
        ip, port = local_address(conn)
        return cluster_view(topology, me_of(conn), ip, port)

    def enabled(conn):
        if conn.server.config.cluster_mode == "off":
            raise CommandError(errors.CLUSTER_DISABLED)

    def slots(conn, args):
        return cluster_slots_reply(view_of(conn))

    def shards(conn, args):
        return cluster_shards_reply(view_of(conn))

    def nodes(conn, args):
        return cluster_nodes_reply(view_of(conn), int(time.time() * 1000))

    def info(conn, args):
        return cluster_info_reply(view_of(conn))

    def myid(conn, args):
        return view_of(conn).myself.node_id.encode()

    def myshardid(conn, args):
        return view_of(conn).myself.shard_id.encode()

    def keyslot(conn, args):
        enabled(conn)
        return key_slot(args[2])

    def links(conn, args):
        enabled(conn)
        return []  # no cluster bus: the topology is computed, not gossiped

    def help_(conn, args):
        enabled(conn)
        return list(CLUSTER_HELP)

    def known_node(conn, args):
        view = view_of(conn)
        if not any(node.node_id.encode() == args[2] for node in view.nodes):
            raise CommandError(errors.UNKNOWN_NODE.format(errors.echo(args[2])))

    def replicas(conn, args):
        known_node(conn, args)
        return []  # every node is a master without replicas

    def count_failure_reports(conn, args):
        known_node(conn, args)
        return 0

    def saveconfig(conn, args):
        enabled(conn)
        return "OK"  # nothing to save: the layout is derived from the configuration

    def layout_fixed(conn, args):
        enabled(conn)
        raise CommandError(errors.CLUSTER_LAYOUT_FIXED.format(
            errors.echo(args[1]).upper()))

    def ok(conn, args):
        # No replicas and no slot migration: READONLY, READWRITE and ASKING
        # change nothing, but clients send them and expect +OK.
        enabled(conn)
        return "OK"

    handlers = {"cluster|" + sub: layout_fixed for sub, *_ in LAYOUT_SUBCOMMANDS}
    handlers.update({
        "cluster|slots": slots,
        "cluster|shards": shards,
        "cluster|nodes": nodes,
        "cluster|info": info,
        "cluster|myid": myid,
        "cluster|myshardid": myshardid,
        "cluster|keyslot": keyslot,
        "cluster|links": links,
        "cluster|help": help_,
        "cluster|replicas": replicas,
        "cluster|slaves": replicas,
        "cluster|count-failure-reports": count_failure_reports,
        "cluster|saveconfig": saveconfig,
        "readonly": ok,
        "readwrite": ok,
        "asking": ok,
    })
    return handlers

