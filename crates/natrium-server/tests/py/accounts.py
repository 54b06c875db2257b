"""nats.py with accounts, against the server at argv[1] (no credentials in the URL), which
runs the configuration of `tests/nats_py_accounts.rs`: account A (users `a` and `a2`, and
the nkey user whose seed file is argv[2]) exports the service `svc.echo`, account B (user
`b`) imports it. Checks that the same subject in A and B never crosses, that B's request
is answered by A's responder, and that the nkey user logs in to A. Exits non-zero on the
first failed check."""

import asyncio
import sys

import nats
from checks import check, expect


def with_user(url, user):
    return url.replace("nats://", f"nats://{user}:{user}@")


def answer(client, data):
    async def cb(msg):
        await client.publish(msg.reply, data)
    return cb


async def settle(client):
    """A round trip through the server and back into `client`: every message the server
    sent it before has been read (and queued to its subscriptions) once this returns."""
    inbox = client.new_inbox()
    await client.subscribe(inbox, cb=answer(client, b"here"))
    await client.flush()
    await client.request(inbox, b"", timeout=5)


async def reachable(client, subject, data, timeout=5):
    """`client`'s request on `subject`, asked again while the server answers "no responders":
    once in a loaded CI run, nats-server 2.15 answered so for a service import just after
    the exporter's responder had subscribed and flushed. The answer must still come within
    `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await client.request(subject, data, timeout=max(deadline - loop.time(), 0.01))
        except nats.errors.NoRespondersError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.01)


async def main(url, seed):
    a = await nats.connect(with_user(url, "a"))
    a2 = await nats.connect(with_user(url, "a2"))
    b = await nats.connect(with_user(url, "b"))

    # The same subject in two accounts.
    sub_a = await a.subscribe("orders")
    sub_b = await b.subscribe("orders")
    await a.flush()
    await b.flush()
    await a2.publish("orders", b"from A")
    await b.publish("orders", b"from B")
    msg = await sub_a.next_msg(timeout=5)
    check(msg.data == b"from A", f"A gets A's message: {msg.data!r}")
    msg = await sub_b.next_msg(timeout=5)
    check(msg.data == b"from B", f"B gets B's message: {msg.data!r}")
    await a2.flush()
    await settle(a)
    await settle(b)
    check(sub_a.pending_msgs == 0, "A does not get B's message")
    check(sub_b.pending_msgs == 0, "B does not get A's message")

    # A service import: B asks, A answers.
    async def echo(msg):
        await a.publish(msg.reply, b"echo:" + msg.data)

    await a.subscribe("svc.echo", cb=echo)
    await a.flush()
    reply = await reachable(b, "svc.echo", b"hi")
    check(reply.data == b"echo:hi", f"the import answers: {reply.data!r}")
    # Not exported the other way: A's request for a B subject reaches nobody.
    await b.subscribe("b.only", cb=answer(b, b"leak"))
    await b.flush()
    await expect(nats.errors.NoRespondersError, a.request("b.only", b"", timeout=5),
                 "a subject of B is not reachable from A")

    # An nkey user of A.
    nk = await nats.connect(url, nkeys_seed=seed)
    sub_nk = await nk.subscribe("orders")
    await nk.flush()
    await a2.publish("orders", b"to the nkey user")
    msg = await sub_nk.next_msg(timeout=5)
    check(msg.data == b"to the nkey user", f"the nkey user is in A: {msg.data!r}")

    for c in (a, a2, b, nk):
        await c.close()
    print("accounts checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
