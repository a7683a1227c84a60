"""Fuzz every ``probefuzz`` entry point in-process with malformed input.

Each input is one command line for one verb (``fuzz.cli.main(argv)``) with
mutated options and mutated input files: platform JSON (bundled boards with
fields retyped, deleted, deepened, truncated, bit-flipped), DTBs (real blobs
truncated and bit-flipped, random bytes), ``.dts`` text, variant JSON,
reproducers (boot configurations included), and hostile argument values
(``nan``, 10 MB strings, newlines, NUL, deep nesting, long paths).  The
loaders, the argument parsing and the model's first steps run for real
(``repro``, ``regress`` and ``variants`` to the end); for the verbs whose
work is long or touches a kernel tree (explore, fuzz, corpus, kernel-tree,
validate)
the work function is replaced by one that stops the run once every check
has passed (counted as "accepted"); apply, propose and cleanup get trees
that are not kernel git trees (never the user's), so they run to the
tree check for real.

Every input must end in exit 0/1 (accepted) or exit 2 with exactly one line
of at most 300 characters on stderr.  Anything else is counted: a traceback
(an exception escaping ``main``), exit 3 (an internal error), a message that
is not one bounded line, a run over 10 s of CPU time (a hang; an input
blocked without using the CPU is caught by a 120 s wall-clock limit).  CPU
time, not wall time: on the shared 2-core box at load 20+, a niced worker
gets a few percent of a core, and an input needing half a second of work can
take over 10 s of wall time without anything being wrong with it.

Usage::

    PYTHONPATH=. .venv/bin/python bench/bench_inputs.py --inputs 1000000 --jobs 2 [--seed 0] [--json]

docs/benchmarks.md (section "malformed inputs") records the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANG_SECONDS = 10  # CPU seconds
HANG_WALL_SECONDS = 120  # for an input that blocks without working
LIMIT = 300


class _Accepted(BaseException):
    """Raised by a stubbed work function: every check before the work passed."""


class _Hang(BaseException):
    """Raised by the CPU-time (SIGPROF) or wall-clock (SIGALRM) limit."""


# -- hostile values -----------------------------------------------------------------

def _nasty_str(rng: random.Random) -> str:
    return rng.choice([
        "", " ", "nan", "inf", "-inf", "-1", "0", "1e400", "9" * rng.randint(20, 5000),
        "x" * rng.choice([300, 5000, 100_000]), "a\nb\nc", "\0", "é✓" * 50, "../" * 200,
        "/dev/null", "/proc/self/mem", "/", "NEXT", "V614", "NEXT+", "NEXT+bogus:=x",
        "NEXT+rk_iommu_probe.dma_dev=before_register", "NEXT+rk_iommu_probe.dma_dev:=nope",
        "NEXT+iommu_init_device.dma_configure-not.dev.driver+" * rng.randint(1, 50),
        "--" + "x" * 10, "-" * 3, "%s%n", "{}", "[]", "best", "rk3568-odroid-m1",
        "00:01.0", "hotplug:0000:00:02.0=pci1af4,1041", "00:20.0", "00:01.0\n", "1:2:3.8",
    ])


def _pci_spec(rng: random.Random) -> Any:
    """A PCI function spec (``[hotplug:][DDDD:]BB:DD.F[=ID]``), valid or not."""
    if rng.random() < 0.5:
        spec = (f"{'hotplug:' if rng.random() < 0.3 else ''}{rng.randrange(0x10000):04x}:"
                f"{rng.randrange(256):02x}:{rng.randrange(0x20):02x}.{rng.randrange(8)}"
                f"{'=pci1af4,1041' if rng.random() < 0.5 else ''}")
        return spec
    return _nasty_str(rng) if rng.random() < 0.8 else _nasty_json(rng)


def _nasty_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([-1, 0, 1, 2**32, 2**64, 2**70, -(2**63)])
    if kind == 3:
        return rng.choice([0.5, 1e308, -0.0])
    if kind == 4:
        return _nasty_str(rng)
    if kind == 5 and depth < 3:
        return [_nasty_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 6 and depth < 3:
        return {_nasty_str(rng)[:20]: _nasty_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if kind == 7:
        return [[[[[[[[1]]]]]]]]
    return rng.choice([[], {}, "", 0, "okay", [1, 2, 3], {"guard": ["dev->driver"]}])


def _mutate_obj(obj: Any, rng: random.Random) -> Any:
    """Retype, delete or add one field somewhere inside ``obj`` (in place when possible)."""
    path: list[Any] = []
    cur = obj
    for _ in range(rng.randint(0, 6)):
        if isinstance(cur, dict) and cur:
            k = rng.choice(list(cur))
        elif isinstance(cur, list) and cur:
            k = rng.randrange(len(cur))
        else:
            break
        path.append((cur, k))
        cur = cur[k]
    if not path:
        return _nasty_json(rng)
    parent, k = path[-1]
    op = rng.randrange(4)
    if op == 0 and isinstance(parent, dict):
        del parent[k]
    elif op == 1 and isinstance(parent, dict):
        parent[_nasty_str(rng)[:40]] = _nasty_json(rng)
    else:
        parent[k] = _nasty_json(rng)
    return obj


def _text_damage(text: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(6)
    if op == 0 and text:
        return text[: rng.randrange(len(text))]
    if op == 1 and text:
        b = bytearray(text)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if op == 2:
        return b"[" * rng.choice([100, 1000, 100_000]) + text
    if op == 3:
        return text.replace(b"1", b"NaN", 1)
    if op == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 512)))
    return text


# -- inputs ------------------------------------------------------------------------

def _copy(d: Any) -> Any:
    """A deep copy of JSON data (the seed material is never mutated)."""
    return json.loads(json.dumps(d))


class Inputs:
    """Seed material and a scratch directory of mutated files."""

    def __init__(self, scratch: Path) -> None:
        from harness.variant import NEXT, variant_to_json

        self.scratch = scratch
        boards = sorted((ROOT / "corpus" / "boards").glob("*.json"), key=lambda p: p.stat().st_size)
        self.platforms = [json.loads(p.read_text()) for p in boards[:4]]
        self.platforms += [json.loads(p.read_text()) for p in (ROOT / "corpus" / "examples").glob("*.json")]
        self.dtbs = [p.read_bytes() for p in (ROOT / "tests" / "corpus" / "fixtures").glob("*.dtb")]
        self.dts_texts = [p.read_bytes() for p in (ROOT / "tests" / "corpus" / "fixtures").glob("*.dts")]
        self.variant = variant_to_json(NEXT)
        self.n = 0

    def _file(self, suffix: str, raw: bytes) -> str:
        """Write ``raw`` to the next of eight rotating scratch files; its path."""
        self.n += 1
        p = self.scratch / f"in{self.n % 8}{suffix}"
        p.write_bytes(raw)
        return str(p)

    def _json_file(self, d: Any, rng: random.Random, damage: float) -> str:
        """``d`` as a JSON file, its text damaged with probability ``damage``."""
        raw = json.dumps(d).encode()
        if rng.random() < damage:
            raw = _text_damage(raw, rng)
        return self._file(".json", raw)

    def platform(self, rng: random.Random) -> str:
        d = _copy(rng.choice(self.platforms))
        for _ in range(rng.randint(0, 3)):
            d = _mutate_obj(d, rng)
        if rng.random() < 0.3:  # props cells: the model reads them
            nodes = d.get("nodes") if isinstance(d, dict) else None
            node = rng.choice(nodes) if isinstance(nodes, list) and nodes else None
            if isinstance(node, dict):
                node["props"] = {rng.choice(["reg", "#address-cells", "ranges", "device_type",
                                                          "mediatek,larbs"]): _nasty_json(rng)}
        if rng.random() < 0.2 and isinstance(d, dict):  # PCI functions the bus scan finds
            d["pci"] = [_pci_spec(rng) for _ in range(rng.randint(0, 3))] \
                if rng.random() < 0.9 else _nasty_json(rng)
        return self._json_file(d, rng, 0.3)

    def dtb(self, rng: random.Random) -> str:
        blob = _text_damage(rng.choice(self.dtbs), rng) if rng.random() < 0.9 else b"\xd0\x0d\xfe\xed" * 10
        return self._file(".dtb", blob)

    def dts(self, rng: random.Random) -> str:
        return self._file(".dts", _text_damage(rng.choice(self.dts_texts), rng))

    def variant_file(self, rng: random.Random) -> str:
        d = _copy(self.variant)
        for _ in range(rng.randint(1, 3)):
            d = _mutate_obj(d, rng)
        return self._json_file(d, rng, 0.2)

    def reproducer(self, rng: random.Random) -> str:
        from fuzz.crashstore import FORMAT, VERSION

        title = "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
        cfg = {"drivers": {"rockchip,rk3568-vop": {"presence": "module", "probe_ret": -517,
                                                   "initcall": rng.choice(["device", "subsys", "x"])}},
               "deferred_probe_timeout": 10, "fail_alloc": [], "events": [["unbind", "/vop"]],
               "pci": [_pci_spec(rng)], "fw_devlink": rng.choice(["on", "off", "permissive", "x"])}
        d: dict[str, Any] = {"format": FORMAT, "version": VERSION, "title": title,
                             "finding": {"title": title},
                             "platform": {"embedded": _copy(rng.choice(self.platforms))},
                             "variant": _copy(self.variant), "schedule": [0, 1, 2],
                             "config": cfg, "tool_version": ""}
        parts = [d, d["config"], d["platform"], d["variant"]]  # before any key is deleted
        for _ in range(rng.randint(1, 3)):
            _mutate_obj(rng.choice(parts), rng)
        return self._json_file(d, rng, 0.15)

    def any_file(self, rng: random.Random) -> str:
        return rng.choice([self.platform, self.dtb, self.dts, self.variant_file, self.reproducer,
                           lambda r: _nasty_str(r)])(rng)


def _variant_arg(inp: Inputs, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(["NEXT", "V614", "NEXT+rk_iommu_probe.dma_dev=before_register",
                           "NEXT+rk_iommu_probe.dma_dev:=before_register",
                           "NEXT+iommu_init_device.dma_configure:-!dev->driver"])
    if r < 0.6:
        return inp.variant_file(rng)
    return _nasty_str(rng)


def argv_for(verb: str, inp: Inputs, rng: random.Random, tree: str) -> list[str]:
    """One mutated command line for ``verb``."""
    def num() -> str:
        return rng.choice(["1", "2", "0", "-1", "nan", "inf", "1e9", "0.001", "x", "3", "99"]) \
            if rng.random() < 0.9 else _nasty_str(rng)

    def tree_opt() -> list[str]:
        return ["--tree", rng.choice([tree, _nasty_str(rng)])]

    out = rng.choice([str(inp.scratch / "out"), "/dev/null", "/proc", _nasty_str(rng)])
    opts: list[list[str]] = []
    pos: list[str] = []
    if verb == "repro":
        opts = [["--variant", _variant_arg(inp, rng)], ["--json"]]
        pos = [inp.any_file(rng)]
    elif verb == "regress":
        opts = [["--variant", _variant_arg(inp, rng)], ["--crashes", str(inp.scratch)], ["--json"]]
    elif verb == "variants":
        opts = [["--base", _variant_arg(inp, rng)], ["--depth", rng.choice(["0", "1", "3", "99", "-1", "x"])],
                ["--json"]]
    elif verb in ("apply", "propose"):
        opts = [["--variant", _variant_arg(inp, rng)], tree_opt(),
                ["--timeout", num()], ["--base-ref", _nasty_str(rng)], ["--json"], ["--force"]]
        if verb == "propose":
            opts += [["--out", out], ["--board", inp.any_file(rng)], ["--evidence", inp.any_file(rng)],
                     ["--reported-by", _nasty_str(rng)], ["--closes", _nasty_str(rng)],
                     ["--fixes", _nasty_str(rng)]]
    elif verb == "cleanup":
        opts = [tree_opt(), ["--variant", _variant_arg(inp, rng)],
                ["--all"], ["--json"]]
    elif verb == "explore":
        opts = [["--base", _variant_arg(inp, rng)], ["--depth", num()], ["--runs-per-board", num()],
                ["--time-per-variant", num()], ["--seed", num()], ["--jobs", num()], ["--out", out],
                ["--top", num()], ["--corpus", rng.choice([str(inp.scratch), _nasty_str(rng)])],
                ["--engine", rng.choice(["native", "hypothesis", "atheris", "x"])]]
    elif verb == "fuzz":
        opts = [["--variant", _variant_arg(inp, rng)], ["--engine", rng.choice(["native", "atheris", "x"])],
                ["--runs", num()], ["--time", num()], ["--seed", num()], ["--jobs", num()],
                ["--crashes", out], ["--corpus", rng.choice([str(inp.scratch), _nasty_str(rng)])],
                ["--libfuzzer", _nasty_str(rng)]]
        pos = [inp.any_file(rng) for _ in range(rng.randint(0, 2))]
    elif verb == "corpus":
        sub = rng.choice(["build", "bundle", "", "x"])
        pos = [sub] if sub else []
        opts = [["--tree", rng.choice([tree, str(inp.scratch), _nasty_str(rng)])],
                ["--arch", _nasty_str(rng)], ["--jobs", num()], ["--out", out], ["--match", _nasty_str(rng)]]
    elif verb == "validate":
        opts = [["--variant", _variant_arg(inp, rng)], tree_opt(),
                ["--base-ref", _nasty_str(rng)], ["--machine", rng.choice(["smmuv3", "virtio-iommu", "x"])],
                ["--device", rng.choice(["virtio-net-pci", "virtio-blk-pci", "e1000", _nasty_str(rng)])],
                ["--image", rng.choice([inp.any_file(rng), _nasty_str(rng)])],
                ["--console-log", out], ["--timeout", num()], ["--json"]]
    elif verb == "kernel-tree":
        opts = [["--help"]] if rng.random() < 0.01 else [[_nasty_str(rng)]]
    chosen = [o for o in opts if rng.random() < 0.6]
    rng.shuffle(chosen)
    argv = [verb] + [x for o in chosen for x in o] + pos
    if rng.random() < 0.05:  # drop or garble one word
        i = rng.randrange(len(argv))
        argv[i] = _nasty_str(rng) if rng.random() < 0.5 else argv[i][: len(argv[i]) // 2]
    return argv


# -- the target ----------------------------------------------------------------------

def _stub_work() -> None:
    """Replace the work of the long verbs by :class:`_Accepted` (checks ran)."""
    import corpus.build
    import corpus.bundled
    import fuzz.commands.corpus
    import fuzz.commands.explore
    import fuzz.commands.fuzz
    import fuzz.commands.validate
    import fuzz.engines.atheris_engine
    import fuzz.engines.session

    def accepted(*a: Any, **k: Any) -> Any:
        raise _Accepted

    # the verbs import these names at their module top: replace them there too
    fuzz.commands.explore.run_campaign = accepted
    fuzz.engines.atheris_engine.run = accepted
    fuzz.commands.fuzz.run_atheris = accepted
    # --jobs N: a Dask cluster, whose worker processes a (daemonic) pool
    # worker may not start ("Failed to start process", exit 3 -- the bench's)
    fuzz.commands.fuzz.fuzz_parallel = accepted
    fuzz.engines.session.Session.__init__ = accepted  # type: ignore[method-assign]
    corpus.build.build = accepted
    fuzz.commands.corpus.build = accepted
    corpus.bundled.regenerate = accepted
    fuzz.commands.validate.validate = accepted  # builds, boots QEMU
    import fuzz.commands.kernel_tree as kt_cmd

    kt_cmd.run = accepted


def one(argv: list[str]) -> tuple[str, str]:
    """Run one command line; (outcome, detail)."""
    from fuzz.cli import main

    err, out = io.StringIO(), io.StringIO()
    signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)
    signal.alarm(HANG_WALL_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
    except _Accepted:
        return "accepted", ""
    except _Hang as e:
        return "hang", f"{e} <- {' '.join(argv)[:300]}"
    except BaseException as e:  # noqa: BLE001 -- the defect being counted
        return "traceback", f"{type(e).__name__}: {str(e)[:200]} <- {' '.join(argv)[:300]}"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.alarm(0)
    text = err.getvalue()
    if code in (0, 1):
        return "accepted", ""
    if code == 2:
        if argv[-1:] == ["--help"] or "-h" in argv:
            return "accepted", ""
        lines = text.splitlines()
        if len(lines) != 1 or len(lines[0]) > LIMIT or not text.endswith("\n"):
            return "bad-message", f"{len(lines)} lines, {len(text)} chars <- {' '.join(argv)[:200]}"
        return "rejected", ""
    return f"exit-{code}", f"{text[:300]} <- {' '.join(argv)[:200]}"


VERBS = ["repro", "regress", "variants", "apply", "propose", "cleanup", "explore", "fuzz", "corpus",
         "kernel-tree", "validate"]


def worker(args: tuple[int, int, int]) -> dict[str, Any]:
    seed, count, wid = args

    def cpu_limit(signum: int, frame: FrameType | None) -> None:
        raise _Hang(f"over {HANG_SECONDS} s of CPU time")

    def wall_limit(signum: int, frame: FrameType | None) -> None:
        raise _Hang(f"over {HANG_WALL_SECONDS} s of wall time")

    signal.signal(signal.SIGPROF, cpu_limit)
    signal.signal(signal.SIGALRM, wall_limit)
    _stub_work()
    rng = random.Random(seed * 1_000_003 + wid)
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    by_verb: dict[str, int] = {}
    secs: dict[str, float] = {}
    cpu: dict[str, float] = {}
    slowest: tuple[float, str] = (0.0, "")
    with tempfile.TemporaryDirectory(prefix="probefuzz-bench-inputs-") as d:
        scratch = Path(d)
        os.chdir(scratch)  # relative paths in hostile arguments land here
        tree = scratch / "tree"
        tree.mkdir()
        inp = Inputs(scratch)
        for _ in range(count):
            verb = rng.choice(VERBS)
            try:
                argv = argv_for(verb, inp, rng, str(tree))
            except Exception as e:  # noqa: BLE001 -- a generator bug is not the target's
                counts["generator-error"] = counts.get("generator-error", 0) + 1
                examples.setdefault("generator-error", []).append(repr(e)[:200])
                continue
            t, c = time.monotonic(), time.process_time()
            outcome, detail = one(argv)
            secs[verb] = secs.get(verb, 0.0) + time.monotonic() - t
            used = time.process_time() - c
            cpu[verb] = cpu.get(verb, 0.0) + used
            if used > slowest[0]:
                slowest = (used, " ".join(argv)[:300])
            counts[outcome] = counts.get(outcome, 0) + 1
            by_verb[verb] = by_verb.get(verb, 0) + 1
            if detail and len(examples.setdefault(outcome, [])) < 5:
                examples[outcome].append(detail)
    return {"counts": counts, "examples": examples, "by_verb": by_verb, "seconds_by_verb": secs,
            "cpu_seconds_by_verb": cpu, "slowest": [round(slowest[0], 3), slowest[1]]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=2_000, help="inputs per work item")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--progress", action="store_true", help="a line on stderr per chunk done")
    a = ap.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    chunks = [(a.seed, min(a.chunk, a.inputs - i), i // a.chunk) for i in range(0, a.inputs, a.chunk)]
    t0 = time.monotonic()
    total: dict[str, Any] = {"counts": {}, "examples": {}, "by_verb": {}, "seconds_by_verb": {},
                             "cpu_seconds_by_verb": {}, "slowest": [0.0, ""]}
    with mp.get_context("fork").Pool(a.jobs) as pool:
        for done, r in enumerate(pool.imap_unordered(worker, chunks), 1):
            for key in ("counts", "by_verb", "seconds_by_verb", "cpu_seconds_by_verb"):
                for k, v in r[key].items():
                    total[key][k] = total[key].get(k, 0) + v
            total["slowest"] = max(total["slowest"], r["slowest"])
            for k, v in r["examples"].items():
                new = v[: 5 - len(total["examples"].get(k, []))]
                total["examples"].setdefault(k, []).extend(new)
                if a.progress and k not in ("accepted", "rejected"):
                    for e in new:  # a defect: say which input at once, not after hours
                        print(f"  {k}: {e}", file=sys.stderr, flush=True)
            if a.progress:
                n, secs = sum(total["counts"].values()), time.monotonic() - t0
                print(f"{done}/{len(chunks)} chunks, {n} inputs, {secs:.0f} s ({n / secs:.0f}/s): "
                      + ", ".join(f"{k} {v}" for k, v in sorted(total["counts"].items())),
                      file=sys.stderr, flush=True)
    elapsed = time.monotonic() - t0
    n = sum(total["counts"].values())
    bad = {k: v for k, v in total["counts"].items() if k not in ("accepted", "rejected", "generator-error")}
    summary = {"inputs": n, "seconds": round(elapsed, 1), "per_second": round(n / elapsed, 1),
               "jobs": a.jobs, "seed": a.seed, **total, "defects": sum(bad.values())}
    if a.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{n} inputs in {elapsed:.0f} s ({n / elapsed:.0f}/s, {a.jobs} jobs, seed {a.seed}): "
              + ", ".join(f"{k} {v}" for k, v in sorted(total["counts"].items())))
        print("by verb: " + ", ".join(f"{k} {v} ({total['seconds_by_verb'][k]:.0f} s, "
                                      f"{total['cpu_seconds_by_verb'][k]:.0f} s CPU)"
                                      for k, v in sorted(total["by_verb"].items())))
        print(f"slowest input: {total['slowest'][0]:.2f} s CPU <- {total['slowest'][1]}")
        for k, ex in total["examples"].items():
            for e in ex:
                print(f"  {k}: {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
