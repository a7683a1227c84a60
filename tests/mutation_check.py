"""Named source mutations: each must make at least one FAST test fail (issue 21).

Each mutation breaks one behaviour the tool promises, in a temporary copy of
the project (the checkout is never touched), and runs the fast tests that
should notice (``-m "not slow"``, stopping at the first failure).  A mutation
whose tests still pass *survives*: the suite does not guard that behaviour.
A mutation whose text is no longer in the source is an error (the check
must be updated with the code), never a silent pass.

    python tests/mutation_check.py            # all, report survivors, exit 1 if any
    python tests/mutation_check.py dedup ...  # some, by name
    python tests/mutation_check.py --list

Run from ``make mutation-check`` (part of ``make test-slow``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".mypy_cache",
                                     ".ruff_cache", ".pytest_cache", ".hypothesis",
                                     "probefuzz-out", "*.egg-info")
TIMEOUT = 1800


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the behaviour broken, in words
    file: str
    old: str
    new: str
    tests: tuple[str, ...]  # the fast tests that must notice (node ids or files)
    env: tuple[tuple[str, str], ...] = ()


MUTATIONS = (
    Mutation(
        "next-guard", "NEXT's bus dma_configure hooks lose the series' dev->driver guard",
        "harness/variant.py",
        'next=G(P("!ret"), P("dev->driver"), P("!drv->driver_managed_dma")),',
        'next=G(P("!ret"), P("!drv->driver_managed_dma")),',
        ("tests/harness/test_oracles.py", "tests/harness/test_seed.py")),
    Mutation(
        "oops-path", "a NULL dereference in a kernel thread is not reported as an oops",
        "harness/kernel.py",
        "            if obj is None or isinstance(obj, BogusPointer):\n"
        "                self._oops(t, e)\n",
        "            if obj is None or isinstance(obj, BogusPointer):\n"
        "                pass\n",
        ("tests/harness/test_seed.py",)),
    Mutation(
        "ranking-key", "variants are ranked in generation order, not by their difference "
        "from the base", "fuzz/ranking.py",
        "        return (self.reverts_goal, *(-self.net(kinds) for _, kinds in LEVELS), "
        "-self.net_pairs,\n",
        "        return (self.index,)\n        return (self.reverts_goal, "
        "*(-self.net(kinds) for _, kinds in LEVELS), -self.net_pairs,\n",
        ("tests/fuzz/test_ranking.py",)),
    Mutation(
        "minimiser", "the minimiser returns the scenario it was given",
        "fuzz/minimise.py",
        "    try:\n        cur = _events(m, cur)\n",
        "    try:\n        raise _Budget\n        cur = _events(m, cur)\n",
        ("tests/fuzz/test_minimise.py",)),
    Mutation(
        "dedup", "every finding is its own bug (no deduplication by title)",
        "fuzz/dedup.py",
        "        for t in (f.title, *f.alt_titles):\n            b = self._by_title.get(t)\n",
        "        for t in ():\n            b = self._by_title.get(t)\n",
        ("tests/fuzz/test_dedup.py::test_fuzz_run_counts_each_bug_once_with_its_hits",
         "tests/fuzz/test_dedup.py::test_session_joins_a_bug_seen_under_an_alternative_title")),
    Mutation(
        "deadlock-detector", "recursive locking of a mutex is not reported",
        "harness/kernel.py",
        "    if lock.owner is t:\n        _report_deadlock(k, t, lock, recursive=True)\n",
        "    if lock.owner is t:\n        pass\n",
        ("tests/harness/test_kernel.py", "tests/harness/test_concurrency.py")),
    Mutation(
        "apply-cleanup", "a failed or interrupted apply leaves its worktree and branch",
        "mutators/apply.py",
        "    except BaseException:\n        gitrepo.remove_worktree(repo, wt, branch)\n        raise\n",
        "    except BaseException:\n        raise\n",
        ("tests/mutators/test_apply_safety.py::test_keyboard_interrupt_in_apply_cleans_up_at_once",
         "tests/mutators/test_apply_safety.py::test_spatch_timeout_cleans_up")),
    Mutation(
        "propose-cleanup", "a failed or interrupted propose leaves its worktree and branch",
        "mutators/propose/pipeline.py",
        "    except BaseException:\n        gitrepo.remove_worktree(repo, wt, branch)\n",
        "    except BaseException:\n        pass\n",
        ("tests/mutators/test_apply_safety.py::test_keyboard_interrupt_in_propose_cleans_up_at_once",
         "tests/mutators/test_propose_e2e.py::test_base_without_the_series_names_the_prerequisites")),
    Mutation(
        "checkpatch-gate", "propose's checkpatch gate always passes",
        "mutators/propose/pipeline.py",
        'errors = sum(len(v.of("ERROR", signoff_ok=no_signoff)) for v in verdicts)',
        "errors = 0",
        ("tests/mutators/test_propose_e2e.py::test_checkpatch_error_fails_the_run",)),
    Mutation(
        "git-am-gate", "propose's git am check always passes",
        "mutators/propose/pipeline.py",
        "            except git.GitCommandError:\n                return False\n",
        "            except git.GitCommandError:\n                return True\n",
        ("tests/mutators/test_propose_e2e.py::test_git_am_failure_fails_the_run",)),
    Mutation(
        "golden-regen-under-ci", "goldens regenerate (and so always pass) when CI is set",
        "tests/golden.py",
        '        if os.environ.get("CI"):\n',
        "        if False:\n",
        ("tests/test_golden.py",)),
)


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed, SURVIVED, ERROR
    seconds: float
    detail: str = ""


def run_one(m: Mutation, pytest_args: list[str]) -> Outcome:
    t0 = time.monotonic()
    src = (ROOT / m.file).read_text()
    if src.count(m.old) != 1:
        return Outcome(m, "ERROR", 0.0, f"{m.file}: the text to mutate occurs "
                       f"{src.count(m.old)} times (update {Path(__file__).name})")
    with tempfile.TemporaryDirectory(prefix=f"probefuzz-mut-{m.name}-") as d:
        copy = Path(d) / "probefuzz"
        shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
        (copy / m.file).write_text(src.replace(m.old, m.new, 1))
        env = dict(os.environ, PYTHONPATH=str(copy), **dict(m.env))
        env.pop("PROBEFUZZ_REGEN_GOLDEN", None)
        argv = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow",
                "-p", "no:cacheprovider", *pytest_args, *m.tests]
        try:
            p = subprocess.run(argv, cwd=copy, env=env, capture_output=True, text=True,
                               timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return Outcome(m, "ERROR", time.monotonic() - t0, "timed out")
    tail = (p.stdout.strip().splitlines() or [""])[-1]
    if p.returncode == 1:
        return Outcome(m, "killed", time.monotonic() - t0, tail)
    if p.returncode == 0:
        return Outcome(m, "SURVIVED", time.monotonic() - t0, tail)
    return Outcome(m, "ERROR", time.monotonic() - t0,
                   f"pytest exit {p.returncode}: {tail or p.stderr.strip()[-300:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("names", nargs="*", help="mutations to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    args, pytest_args = ap.parse_known_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:24} {m.what}")
        return 0
    by_name = {m.name: m for m in MUTATIONS}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        print(f"mutation_check: unknown mutation(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [by_name[n] for n in args.names] or list(MUTATIONS)
    outcomes = []
    for m in chosen:
        o = run_one(m, pytest_args)
        outcomes.append(o)
        print(f"{o.status:8} {m.name:24} {o.seconds:6.1f} s  {o.detail}", flush=True)
    killed = sum(o.status == "killed" for o in outcomes)
    print(f"mutation score: {killed}/{len(outcomes)} killed"
          + "".join(f"; {o.status.lower()}: {o.mutation.name}" for o in outcomes
                    if o.status != "killed"))
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
