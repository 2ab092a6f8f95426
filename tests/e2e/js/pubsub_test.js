// ioredis subscribers against damselfly's proxy: node pubsub_test.js <port> <count>
// Two subscriber connections (a channel and a pattern), one publisher that
// sends <count> messages; prints one JSON line with what each subscriber got
// and the publisher's receiver counts.
"use strict";
const Redis = require("ioredis");

async function main() {
  const port = Number(process.argv[2]);
  const count = Number(process.argv[3]);
  const options = { host: "127.0.0.1", port, maxRetriesPerRequest: 1 };
  const byChannel = new Redis(options);
  const byPattern = new Redis(options);
  const publisher = new Redis(options);
  const result = { channel: [], pattern: [], counts: [] };
  try {
    result.subscribed = await byChannel.subscribe("js:news", "js:other");
    result.psubscribed = await byPattern.psubscribe("js:*");
    const done = new Promise((resolve) => {
      const check = () => {
        if (result.channel.length === count && result.pattern.length === count) resolve();
      };
      byChannel.on("message", (channel, message) => {
        result.channel.push(channel + "=" + message);
        check();
      });
      byPattern.on("pmessage", (pattern, channel, message) => {
        result.pattern.push(pattern + ":" + channel + "=" + message);
        check();
      });
    });
    const sends = [];
    for (let i = 0; i < count; i++) sends.push(publisher.publish("js:news", "m" + i));
    result.counts = await Promise.all(sends);
    await Promise.race([done, new Promise((r) => setTimeout(r, 10000))]);
    result.unsubscribed = await byChannel.unsubscribe("js:news");
    result.numsub = await publisher.pubsub("NUMSUB", "js:news", "js:other");
  } catch (err) {
    result.error = String(err);
  } finally {
    byChannel.disconnect();
    byPattern.disconnect();
    publisher.disconnect();
  }
  console.log(JSON.stringify(result));
}

main();
