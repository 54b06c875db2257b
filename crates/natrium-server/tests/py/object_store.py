"""nats.py's object store against the server at argv[1]: put/get of empty, small and
multi-chunk objects (digest checked by nats.py and by this script), info, list, metadata
update, delete, watch, status and seal. Exits non-zero on the first failed check."""

import asyncio
import hashlib
import sys

import nats
from checks import check, expect
from nats.js import api, errors


def data(size, seed):
    # Bytes that differ per object and do not repeat within one.
    out = bytearray()
    block = seed.to_bytes(8, "little")
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    obs = await js.create_object_store(bucket="PYOBJ")

    sizes = {"empty": 0, "small": 1000, "chunked": 3 * 128 * 1024 + 17}
    for seed, (name, size) in enumerate(sizes.items()):
        info = await obs.put(name, data(size, seed))
        check(info.size == size, f"{name}: stored size {info.size}")
    for seed, (name, size) in enumerate(sizes.items()):
        result = await obs.get(name)
        check(result.data == data(size, seed), f"{name}: bytes round-trip")
        check(result.info.size == size, f"{name}: info size")
        check(result.info.digest.startswith("SHA-256="), f"{name}: digest {result.info.digest}")

    info = await obs.get_info("chunked")
    check(info.chunks == 4, f"chunks {info.chunks}")
    names = sorted(i.name for i in await obs.list())
    check(names == sorted(sizes), f"list {names}")

    await obs.update_meta("small", api.ObjectMeta(name="small", description="described"))
    info = await obs.get_info("small")
    check(info.description == "described", "metadata updated")
    await expect(errors.ObjectNotFoundError, obs.get_info("missing"), "missing object")

    await obs.delete("empty")
    # nats.py reports a deleted object as not found.
    await expect(errors.ObjectNotFoundError, obs.get_info("empty"), "deleted object")

    # The latest state of every object first (deleted ones left out), then None.
    watcher = await obs.watch(ignore_deletes=True)
    initial = []
    while (update := await asyncio.wait_for(watcher.updates(), 5)) is not None:
        initial.append(update.name)
    check(sorted(initial) == ["chunked", "small"], f"initial watch data {initial}")
    await watcher.stop()

    watcher = await obs.watch(updates_only=True)
    await obs.put("live", b"watched")
    update = await asyncio.wait_for(watcher.updates(), 5)
    check(update.name == "live" and update.size == 7, f"live update {update}")
    await watcher.stop()

    status = await obs.status()
    check(status.bucket == "PYOBJ" and not status.sealed, "status before seal")
    await obs.seal()
    status = await obs.status()
    check(status.sealed, "sealed")
    check((await obs.get("live")).data == b"watched", "a sealed bucket stays readable")

    await js.delete_object_store("PYOBJ")
    await nc.close()
    print("object_store checks passed")


asyncio.run(main(sys.argv[1]))
