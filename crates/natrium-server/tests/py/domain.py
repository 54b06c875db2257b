"""nats.py with a JetStream domain against the server at argv[1] (which runs
`jetstream { domain: hub }`): `nc.jetstream(domain="hub")` creates a stream, publishes
with an acknowledgement naming the domain, fetches from a pull consumer and puts and gets
a key. Exits non-zero on the first failed check."""

import asyncio
import sys

import nats
from checks import check


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream(domain="hub")

    info = await js.account_info()
    check(info.domain == "hub", f"account info names the domain: {info.domain!r}")

    await js.add_stream(name="PYDOM", subjects=["pydom.>"])
    ack = await js.publish("pydom.a", b"one")
    check((ack.stream, ack.seq, ack.domain) == ("PYDOM", 1, "hub"), f"pub ack {ack}")

    sub = await js.pull_subscribe("pydom.>", durable="WORKER", stream="PYDOM")
    msgs = await sub.fetch(1, timeout=5)
    check([m.data for m in msgs] == [b"one"], "the pull consumer hands out the message")
    await msgs[0].ack_sync()
    consumer = await js.consumer_info("PYDOM", "WORKER")
    check(consumer.ack_floor.stream_seq == 1, "the ack reached the consumer")

    kv = await js.create_key_value(bucket="PYCFG")
    check(await kv.put("colour", b"blue") == 1, "put through the domain")
    entry = await kv.get("colour")
    check(entry.value == b"blue", "get through the domain")

    # Without the domain, the same JetStream answers on $JS.API.
    plain = nc.jetstream()
    check((await plain.stream_info("PYDOM")).state.messages == 1, "plain API sees the stream")

    await nc.close()
    print("domain checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
