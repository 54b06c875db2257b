"""nats.py `.creds` logins in operator mode, against the server at argv[1] which trusts an
operator whose accounts A and B hold the users of the `.creds` files argv[2] (A) and
argv[3] (B): each logs in, talks inside its account, and the accounts stay apart. Exits
non-zero on the first failed check."""

import asyncio
import sys

import nats
from checks import check


async def main(url, creds_a, creds_b):
    a = await nats.connect(url, user_credentials=creds_a)
    b = await nats.connect(url, user_credentials=creds_b)
    got_a, got_b = [], []

    async def on_a(m):
        got_a.append(m.data)

    async def on_b(m):
        got_b.append(m.data)

    await a.subscribe("events", cb=on_a)
    await b.subscribe("events", cb=on_b)
    await a.flush()
    await b.flush()
    await a.publish("events", b"from A")
    await b.publish("events", b"from B")
    await a.flush()
    await b.flush()
    # Round trips through each account: what each published has been delivered.
    for c in (a, b):
        async def pong(msg, c=c):
            await c.publish(msg.reply, b"pong")

        await c.subscribe("ping", cb=pong)
        await c.flush()
        await c.request("ping", b"", timeout=5)
    check(got_a == [b"from A"], f"A sees only A's message: {got_a}")
    check(got_b == [b"from B"], f"B sees only B's message: {got_b}")
    await a.close()
    await b.close()
    print("operator checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
