"""nats.py's consumer APIs against the server at argv[1]: pull_subscribe with fetch (batch,
timeout, acks, redelivery after a nak), a push consumer shared by a queue group, and an
ordered consumer. Exits non-zero on the first failed check."""

import asyncio
import sys

import nats
from checks import check, expect
from nats.js.api import AckPolicy, ConsumerConfig

# Upper bound for anything awaited; never a pacing delay.
BOUND = 5


async def publish(js, subject, n, start=0):
    for i in range(start, start + n):
        await js.publish(subject, str(i).encode())


async def pull(js):
    await js.add_stream(name="PULL", subjects=["pull.>"])
    await publish(js, "pull.a", 5)
    psub = await js.pull_subscribe("pull.>", durable="worker", stream="PULL")

    first = await psub.fetch(batch=3, timeout=BOUND)
    check([m.data for m in first] == [b"0", b"1", b"2"], "a batch of three, in order")
    meta = first[2].metadata
    check((meta.sequence.stream, meta.sequence.consumer, meta.num_delivered, meta.num_pending)
          == (3, 3, 1, 2), f"metadata of the third: {meta}")
    for m in first[:2]:
        await m.ack_sync(timeout=BOUND)
    # nats.py's nak() does not wait; nats-server handles acks asynchronously, so nak as a
    # request (the empty reply comes once it is handled) before the next fetch.
    await js._nc.request(first[2].reply, b"-NAK", timeout=BOUND)

    # The nak'ed message comes again (delivered twice), then the rest; the batch is not
    # filled and the request expires short.
    rest = await psub.fetch(batch=10, timeout=1)
    check([m.data for m in rest] == [b"2", b"3", b"4"], f"redelivery then rest: {rest}")
    check(rest[0].metadata.num_delivered == 2, "the nak'ed one was delivered twice")
    for m in rest:
        await m.ack_sync(timeout=BOUND)

    # Nothing left: fetch times out.
    await expect(nats.errors.TimeoutError, psub.fetch(batch=1, timeout=0.5), "empty fetch")

    info = await js.consumer_info("PULL", "worker")
    check((info.num_pending, info.num_ack_pending, info.delivered.stream_seq,
           info.ack_floor.stream_seq) == (0, 0, 5, 5), f"consumer info: {info}")

    # A request waiting for a message gets it when it is published.
    waiting = asyncio.ensure_future(psub.fetch(batch=1, timeout=BOUND))
    await asyncio.sleep(0)
    await js.publish("pull.b", b"late")
    late = await waiting
    check([m.data for m in late] == [b"late"], "a waiting fetch gets a new message")
    await psub.unsubscribe()


async def queue_group(js):
    await js.add_stream(name="PUSH", subjects=["push.>"])
    got = {"a": [], "b": []}
    done = asyncio.Event()

    def handler(name):
        async def on_msg(msg):
            got[name].append(int(msg.data))
            await msg.ack()
            if len(got["a"]) + len(got["b"]) == 20:
                done.set()
        return on_msg

    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    sub_a = await js.subscribe("push.>", queue="workers", durable="workers",
                               cb=handler("a"), config=config, stream="PUSH")
    sub_b = await js.subscribe("push.>", queue="workers", durable="workers",
                               cb=handler("b"), config=config, stream="PUSH")
    info = await js.consumer_info("PUSH", "workers")
    check(info.config.deliver_group == "workers", f"deliver group: {info.config}")
    await publish(js, "push.x", 20)
    await asyncio.wait_for(done.wait(), BOUND)
    both = sorted(got["a"] + got["b"])
    check(both == list(range(20)), f"each message to one member of the group: {got}")
    await sub_a.unsubscribe()
    await sub_b.unsubscribe()


async def ordered(js):
    await js.add_stream(name="ORD", subjects=["ord.>"])
    await publish(js, "ord.a", 10)
    sub = await js.subscribe("ord.>", ordered_consumer=True, stream="ORD")
    seen = []
    for _ in range(10):
        msg = await sub.next_msg(timeout=BOUND)
        seen.append(int(msg.data))
    await publish(js, "ord.b", 5, start=10)
    for _ in range(5):
        msg = await sub.next_msg(timeout=BOUND)
        seen.append(int(msg.data))
    check(seen == list(range(15)), f"the ordered consumer sees every message in order: {seen}")
    await sub.unsubscribe()


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    await pull(js)
    await queue_group(js)
    await ordered(js)
    await nc.close()
    print("consumers checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
