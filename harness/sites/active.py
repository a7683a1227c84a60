"""The variant the model runs, as the model reads it at a guard site.

A leaf (it imports nothing from the harness at run time): the sites' own
predicates (e.g. a bus hook's snapshot of ``dev->driver``) and every model
module read the active values here, while :func:`harness.variant.activate`
sets them.

:func:`check` runs ~1,000 times a boot, so each guard is compiled once into
a closure over its predicates' ``read`` functions (no per-call walk of the
conjunction through the vocabulary); the compiled form evaluates the same
reads in the same left-to-right, short-circuit order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.sites.site import PredDef, SiteValue

#: a compiled guard: the site's environment -> whether the guarded statement runs
Compiled = Callable[[Mapping[str, Any]], bool]

_active_values: dict[str, SiteValue] = {}
_vocabs: Mapping[str, Mapping[str, PredDef]] = {}
_compiled: dict[str, Compiled] = {}
# (site, value) -> compiled guard, valid for the vocabularies in _cache_vocabs
_cache: dict[tuple[str, Any], Compiled] = {}
_cache_vocabs: object = None
# record_reads(): where the reads are noted (None: not recording)
_reads: Reads | None = None


class Reads:
    """What a run read of the variant, to tell which other variants it was a run of.

    ``raw``: sites whose value the run read (``choice``, ``present``, a guard
    without a compiled form): any other value could have steered it.
    ``checked``: guard sites evaluated with :func:`check` while ``alternatives``
    (site -> other values of it) were evaluated in the same environment beside
    the active guard; ``diverged`` holds each ``(site, value)`` whose outcome
    differed at some evaluation (or faulted).  A variant whose values differ
    only at sites the run never read, or at checked sites where its value was
    evaluated and never diverged, makes every step of the run the same.
    """

    def __init__(self, alternatives: Mapping[str, tuple[SiteValue, ...]] | None = None) -> None:
        self.alternatives = alternatives or {}
        self.raw: set[str] = set()
        self.checked: set[str] = set()
        self.diverged: set[tuple[str, Any]] = set()
        # (site, value) -> the value's compiled guard (None: no pure compiled form)
        self._alt: dict[str, tuple[tuple[SiteValue, Compiled | None], ...]] = {}

    def same_run(self, site: str, value: SiteValue) -> bool:
        """Would ``value`` at ``site`` (all else equal) have left the run unchanged?"""
        if site in self.raw:
            return False
        if site not in self.checked:
            return True
        return value in self.alternatives.get(site, ()) and (site, value) not in self.diverged \
            and self._compiled_alt(site, value) is not None

    def _compiled_alt(self, site: str, value: SiteValue) -> Compiled | None:
        for v, fn in self._alts(site):
            if v == value:
                return fn
        return None

    def _alts(self, site: str) -> tuple[tuple[SiteValue, Compiled | None], ...]:
        alts = self._alt.get(site)
        if alts is None:
            vocab = _vocabs.get(site, {})
            alts = self._alt[site] = tuple((v, _pure(v, vocab)) for v in self.alternatives.get(site, ()))
        return alts

    def check(self, site: str, fn: Compiled, env: Mapping[str, Any]) -> bool:
        """``fn(env)`` (the active guard), and each alternative beside it."""
        alts = self._alts(site)
        self.checked.add(site)
        try:
            out = fn(env)
        except BaseException:
            self.diverged.update((site, v) for v, _ in alts)
            raise
        for v, alt in alts:
            if alt is None or (site, v) in self.diverged:
                continue
            try:
                same = bool(alt(env)) == out
            except Exception:  # noqa: BLE001 - it would fault where the active guard did not
                same = False
            if not same:
                self.diverged.add((site, v))
        return out


def _pure(value: SiteValue, vocab: Mapping[str, PredDef]) -> Compiled | None:
    """A guard value compiled without reading the active values (None: it cannot be)."""
    if value is None:
        return _absent
    conj = getattr(value, "conj", None)
    if conj is None or any(p.name not in vocab for p in conj):
        return None
    return compile_guard("", value, vocab)


class _ReadLog(dict):  # type: ignore[type-arg]
    """The active values while recording: each read is raw."""

    def __init__(self, table: Mapping[str, Any], reads: Reads) -> None:
        super().__init__(table)
        self.reads = reads

    def __getitem__(self, site: str) -> Any:
        self.reads.raw.add(site)
        return dict.__getitem__(self, site)


class _CheckLog(dict):  # type: ignore[type-arg]
    """The compiled guards while recording: each check goes through :meth:`Reads.check`."""

    def __init__(self, table: Mapping[str, Any], reads: Reads) -> None:
        super().__init__(table)
        self.reads = reads

    def __getitem__(self, site: str) -> Any:
        fn = dict.__getitem__(self, site)
        reads = self.reads
        if site not in reads.alternatives:  # nothing to evaluate beside it
            reads.checked.add(site)
            return fn
        return lambda env: reads.check(site, fn, env)


def _absent(env: Mapping[str, Any]) -> bool:
    return False


def _always(env: Mapping[str, Any]) -> bool:
    return True


def _interpreted(site: str) -> Compiled:
    """The guard read through the vocabulary at each call (a value the
    compiler cannot resolve up front, e.g. a predicate the vocabulary lacks:
    the KeyError comes when the guard is evaluated, as before)."""

    def run(env: Mapping[str, Any]) -> bool:
        g: Any = _active_values[site]
        if g is None:
            return False
        vocab = _vocabs[site]
        for p in g.conj:
            if bool(vocab[p.name].read(env)) == p.neg:
                return False
        return True

    return run


def compile_guard(site: str, value: SiteValue, vocab: Mapping[str, PredDef]) -> Compiled:
    """``value`` (a guard of ``site``, or None) as one function of the environment."""
    if value is None:
        return _absent
    conj = getattr(value, "conj", None)
    if conj is None:  # a choice site's alternative: check() is not for those
        return _interpreted(site)
    try:
        preds = tuple((vocab[p.name].read, bool(p.neg)) for p in conj)
    except KeyError:
        return _interpreted(site)
    if not preds:
        return _always
    if len(preds) == 1:
        read, neg = preds[0]
        if neg:
            return lambda env: not read(env)
        return lambda env: bool(read(env))

    def run(env: Mapping[str, Any]) -> bool:
        for read, neg in preds:
            if bool(read(env)) == neg:
                return False
        return True

    return run


def compile_values(values: Mapping[str, SiteValue],
                   vocabs: Mapping[str, Mapping[str, PredDef]]) -> dict[str, Compiled]:
    """Every site's value of ``values`` compiled (:func:`compile_guard`)."""
    global _cache_vocabs
    if vocabs is not _cache_vocabs or len(_cache) > 4096:
        _cache.clear()
        _cache_vocabs = vocabs
    compiled: dict[str, Compiled] = {}
    for site, value in values.items():
        key = (site, value)
        fn = _cache.get(key)
        if fn is None:
            fn = _cache[key] = compile_guard(site, value, vocabs.get(site, {}))
        compiled[site] = fn
    return compiled


def set_values(values: dict[str, SiteValue], vocabs: Mapping[str, Mapping[str, PredDef]],
               compiled: dict[str, Compiled] | None = None) -> None:
    """Make ``values`` (site -> value, every site) what the model reads;
    ``compiled`` is :func:`compile_values` of them when the caller kept it."""
    global _active_values, _vocabs, _compiled
    _compiled = compiled if compiled is not None else compile_values(values, vocabs)
    _active_values = values
    _vocabs = vocabs
    if _reads is not None:
        _log(_reads)


def record_reads(reads: Reads | None) -> None:
    """Note in ``reads`` what the model reads of the variant (:func:`check`,
    :func:`choice`, :func:`present`), from now on and across :func:`set_values`,
    until ``record_reads(None)``.  The model's behaviour is unchanged."""
    global _reads, _active_values, _compiled
    _reads = reads
    if reads is not None:
        _log(reads)
    else:
        _active_values = dict(_active_values)
        _compiled = dict(_compiled)


def _log(reads: Reads) -> None:
    global _active_values, _compiled
    _active_values = _ReadLog(_active_values, reads)
    _compiled = _CheckLog(_compiled, reads)


def present(site: str) -> bool:
    """Whether the guarded statement exists in this variant's code."""
    return _active_values[site] is not None


def check(site: str, **env: Any) -> bool:
    """Evaluate the site's guard in ``env``; False when the statement is absent."""
    return _compiled[site](env)


def choice(site: str) -> str:
    """The alternative of a choice site."""
    v = _active_values[site]
    if type(v) is not str:  # (~1,700 a boot: no isinstance() call)
        raise AssertionError(site)
    return v
