// ioredis Cluster against damselfly in sharded mode: node cluster_test.js <port>
// Reads the topology from the node at <port>, then writes and reads keys over
// every slot straight on the shards, hash-tagged MSET/MGET, a pipeline, and
// a lookup through a deliberately wrong node (MOVED).  Prints one JSON line.
"use strict";
const { Cluster } = require("ioredis");

async function main() {
  const port = Number(process.argv[2]);
  const cluster = new Cluster([{ host: "127.0.0.1", port }], {
    enableReadyCheck: true,
    redisOptions: { connectTimeout: 5000 },
    clusterRetryStrategy: () => null,
  });
  const result = {};
  try {
    await new Promise((resolve, reject) => {
      cluster.once("ready", resolve);
      cluster.once("error", reject);
    });
    result.masters = cluster.nodes("master").map((n) => n.options.port).sort();
    const n = 2000;
    const writes = [];
    for (let i = 0; i < n; i++) writes.push(cluster.set("js:key:" + i, "v" + i));
    await Promise.all(writes);
    const reads = [];
    for (let i = 0; i < n; i++) reads.push(cluster.get("js:key:" + i));
    const values = await Promise.all(reads);
    result.read_ok = values.every((v, i) => v === "v" + i);
    await cluster.mset("{js}a", "1", "{js}b", "2", "{js}c", "3");
    result.mget = await cluster.mget("{js}a", "{js}b", "{js}c");
    const pipe = cluster.pipeline();
    for (let i = 0; i < 50; i++) pipe.incr("{js}counter");
    const replies = await pipe.exec();
    result.pipeline_last = replies[replies.length - 1][1];
    result.dbsize_sum = 0;
    for (const node of cluster.nodes("master")) result.dbsize_sum += await node.dbsize();
    // A key asked of the shard that does not own it answers MOVED.
    const slot = Number(await cluster.cluster("KEYSLOT", "js:key:0"));
    const owner = cluster.slots[slot][0];
    const other = cluster.nodes("master").find((n) => `${n.options.host}:${n.options.port}` !== owner);
    try {
      await other.get("js:key:0");
      result.moved = null;
    } catch (err) {
      result.moved = err.message;
    }
    result.owner = owner;
    result.slot = slot;
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  } finally {
    cluster.disconnect();
  }
  console.log(JSON.stringify(result));
}

main();
