"""The in-process engine: seeded, feature-guided byte fuzzing over :mod:`fuzz.gen`.

No process start, no instrumentation: the engine ``explore`` runs in its
workers.  Inputs are bytes decoded by :class:`fuzz.gen.ByteProvider`.  It
first boots every board plainly (input ``bytes([i])``: board ``i``, defaults),
then alternates fresh random inputs with mutations of inputs that showed new
features (a small greybox loop, libFuzzer-style mutations on the bytes).  The
random source is seeded from ``seed`` and the variant's fingerprint, so a run
with a run budget is reproducible.
"""

from __future__ import annotations

import hashlib
import random
import time

from fuzz.engines.session import EngineStats, Session
from fuzz.gen import GenContext, from_bytes

MAX_LEN = 64


def _rng(seed: int, salt: str) -> random.Random:
    h = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def mutate_bytes(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One libFuzzer-style mutation of ``data``."""
    b = bytearray(data)
    op = rng.randrange(6)
    if op == 0 and b:
        b[rng.randrange(len(b))] = rng.randrange(256)
    elif op == 1 and b:
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif op == 2 and len(b) < MAX_LEN:
        b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
    elif op == 3 and b:
        del b[rng.randrange(len(b))]
    elif op == 4 and pool:
        other = rng.choice(pool)
        cut = rng.randrange(len(b) + 1)
        b = b[:cut] + other[cut:]
    else:
        b += rng.randbytes(rng.randint(1, 8))
    return bytes(b[:MAX_LEN])


def fuzz_loop(session: Session, ctx: GenContext, *, runs: int | None, seconds: float | None,
              seed: int, plain_first: bool = True, guided: bool = True) -> EngineStats:
    """Fuzz ``session.variant`` until ``runs`` executions or ``seconds`` elapse.

    ``guided=False`` runs the same input sequence for every variant (no
    feedback, seed not salted by the variant): common random inputs, so
    variants compared in a ranking were tested on exactly the same scenarios.
    """
    rng = _rng(seed, session.variant.fingerprint() if guided else "common")
    pool: list[bytes] = []
    deadline = None if seconds is None else time.monotonic() + seconds
    first = [bytes([i]) for i in range(len(ctx.boards))] if plain_first and len(ctx.boards) <= 256 else []
    session.start()
    n = 0
    while True:
        if runs is not None and n >= runs:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        if n < len(first):
            data = first[n]
        elif guided and pool and rng.random() < 0.5:
            data = mutate_bytes(rng.choice(pool), rng, pool)
        else:
            data = rng.randbytes(rng.randint(1, MAX_LEN))
        n += 1
        s = from_bytes(data, ctx)
        before = len(session.features)
        session.run(s)
        if len(session.features) > before:
            pool.append(data)
    return session.finish()
