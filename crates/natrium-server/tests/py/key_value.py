"""nats.py's key_value against the server at argv[1]: put/get/create/update with revision
checks, delete and purge markers, history, keys, watch (initial data ends with None), status.
Exits non-zero on the first failed check."""

import asyncio
import sys

import nats
from checks import check, expect
from nats.js import errors


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="PY", history=5)

    check(await kv.put("a", b"1") == 1, "first put is revision 1")
    entry = await kv.get("a")
    check((entry.value, entry.revision) == (b"1", 1), "get returns the value")
    await expect(errors.KeyNotFoundError, kv.get("missing"), "missing key")
    await expect(errors.KeyWrongLastSequenceError, kv.create("a", b"x"), "create existing")
    check(await kv.create("b", b"2") == 2, "create new")
    check(await kv.update("a", b"3", last=1) == 3, "update at the right revision")
    await expect(errors.KeyWrongLastSequenceError, kv.update("a", b"4", last=1), "stale")

    await kv.delete("b")
    # nats.py reports a deleted key as not found.
    await expect(errors.KeyNotFoundError, kv.get("b"), "deleted key")
    check(await kv.create("b", b"5") == 5, "a deleted key can be created")

    history = await kv.history("a")
    check([e.value for e in history] == [b"1", b"3"], "history of a")

    await kv.purge("a")
    history = await kv.history("a")
    check(len(history) == 1 and history[0].operation == "PURGE", "purge rolls up")
    check(await kv.keys() == ["b"], "keys skip purged keys")

    status = await kv.status()
    check(status.bucket == "PY" and status.values == 4, f"status values {status.values}")

    watcher = await kv.watchall()
    seen = []
    while True:
        update = await asyncio.wait_for(watcher.updates(), 5)
        if update is None:  # the end of the initial data
            break
        seen.append((update.key, update.revision, update.operation))
    check(seen == [("b", 5, None), ("a", 6, "PURGE")], f"initial watch data {seen}")
    await kv.put("c", b"live")
    update = await asyncio.wait_for(watcher.updates(), 5)
    check((update.key, update.value) == ("c", b"live"), "live update")
    await watcher.stop()

    await js.delete_key_value("PY")
    await nc.close()
    print("key_value checks passed")


asyncio.run(main(sys.argv[1]))
