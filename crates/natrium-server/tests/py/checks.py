"""The assertions the nats.py scripts share: a check that names what failed, and an
expected exception."""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def expect(exc, coro, what):
    try:
        await coro
    except exc:
        return
    raise AssertionError(f"{what}: expected {exc.__name__}")
