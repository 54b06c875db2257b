"""JetStream through nats.py against the server at argv[1]: streams, publish acks with
Nats-Msg-Id deduplication, get by sequence and by last subject, purge, stream info.

Run by tests/nats_py.rs. Exits non-zero (with the failed assertion) on any difference.
"""

import asyncio
import sys

import nats
from nats.js.errors import NotFoundError


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    info = await js.add_stream(name="PY", subjects=["py.>"])
    assert info.config.name == "PY", info
    assert info.state.messages == 0, info.state

    first = await js.publish("py.orders", b"one", headers={"Nats-Msg-Id": "order-1"})
    assert (first.stream, first.seq, first.duplicate) == ("PY", 1, None), first
    again = await js.publish("py.orders", b"one", headers={"Nats-Msg-Id": "order-1"})
    assert (again.seq, again.duplicate) == (1, True), again
    second = await js.publish("py.orders", b"two")
    assert second.seq == 2, second
    other = await js.publish("py.other", b"three")
    assert other.seq == 3, other

    msg = await js.get_msg("PY", seq=1)
    assert (msg.subject, msg.seq, msg.data) == ("py.orders", 1, b"one"), msg
    assert msg.headers and msg.headers.get("Nats-Msg-Id") == "order-1", msg.headers
    last = await js.get_last_msg("PY", "py.orders")
    assert (last.seq, last.data) == (2, b"two"), last
    try:
        await js.get_msg("PY", seq=99)
        raise AssertionError("a missing sequence must be an error")
    except NotFoundError as e:
        assert e.err_code == 10037, e

    info = await js.stream_info("PY")
    state = info.state
    assert (state.messages, state.first_seq, state.last_seq) == (3, 1, 3), state

    # Purge one subject, then everything.
    assert await js.purge_stream("PY", subject="py.other")
    info = await js.stream_info("PY")
    assert info.state.messages == 2, info.state
    assert await js.purge_stream("PY")
    info = await js.stream_info("PY")
    state = info.state
    assert (state.messages, state.first_seq, state.last_seq) == (0, 4, 3), state

    # The stream goes on after the purge.
    after = await js.publish("py.orders", b"four")
    assert after.seq == 4, after
    assert await js.delete_stream("PY")
    await nc.close()
    print("jetstream checks passed")


asyncio.run(main(sys.argv[1]))
