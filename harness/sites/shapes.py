"""C shapes of the guard sites, as data: how a site's value looks in the kernel's C.

Each :class:`harness.sites.site.Site` carries a shape (its ``c`` field), so one
declaration holds both the model semantics (vocabulary, V614/NEXT values,
read by the harness) and the C it stands for.  The shapes here only *describe*
the code -- the function, the guarded statement, an anchor statement, the
alternatives of a choice; :mod:`mutators.smpl` turns them into Coccinelle
semantic patches (and :mod:`mutators.readback` reads them back from a tree).

Shapes never name line numbers, so they fit any tree whose code has that
shape (6.12, 6.14, ...).  A few fields hold SmPL patterns (statement patterns
such as ``body`` or an :class:`Alternative`'s rules): they are part of the
description of the C, written once at the site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.sites.site import Guard, Site
    from harness.variant import Variant

#: order sites: where a driver publishes state relative to iommu_device_register()
AFTER = "after_register"
BEFORE = "before_register"
#: snapshot sites: a racy field read twice, or once into a READ_ONCE() local
TWICE = "twice"
ONCE = "once"


@dataclass(frozen=True)
class Comment:
    """A comment that goes above a site's statement.

    It is emitted when the site's guard contains every conjunct in ``requires``
    (``str(Pred)`` spelling, e.g. ``"dev->driver"``, ``"!dev_iommu_present"``);
    when several match, the first one wins.  Every comment of a site is also
    *known*: when the value changes, a known comment directly above the
    statement is removed first, so comments never go stale.
    """

    text: str
    requires: tuple[str, ...] = ()

    def fits(self, guard: Guard | None) -> bool:
        if guard is None:
            return False
        have = {str(p) for p in guard.conj}
        return all(r in have for r in self.requires)


@dataclass(frozen=True)
class Anchor:
    """Where a statement is inserted when the site goes from absent to present.

    ``before``/``after`` are SmPL statement patterns; the new code goes between
    them (either may be empty, not both).  They must be adjacent in the code.
    """

    before: str = ""
    after: str = ""
    metavars: str = ""


class Shape:
    """Base class of the C shape of one site."""

    #: rules of one file run in ascending ``order`` (then declaration order)
    order: int = 50
    owned_locals: tuple[str, ...] = ()

    def applicable(self, site: Site, variant: Variant) -> bool:
        """False when the site has no C of its own in this variant (e.g. a lock
        choice around a call the variant does not make)."""
        return True

    def known_comments(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class GuardedIf(Shape):
    """``if (COND) BODY`` inside the site's function.

    * ``body`` -- SmPL matching the guarded statement (may use ``...``).
    * ``follow`` -- SmPL of the statement right after the ``if`` (pins which
      ``if`` it is, e.g. the claim after platform's early return).
    * ``negated`` -- the C condition is the *negation* of the model's guard
      (early-return form: ``if (!guard) return ret;``), written with De Morgan.
    * ``insert_body`` -- C of the body for absent->present, from the variant
      (``None``: the site cannot be inserted); ``anchor`` -- where.
    * ``label`` -- ``(name, SmPL statement)``: a label the inserted body jumps
      to, placed before that statement (a later statement of the function).
    * ``removable`` -- whether the value ``None`` (statement absent) has C.
    """

    body: str
    follow: str = ""
    negated: bool = False
    insert_body: Callable[[Variant], str] | None = None
    anchor: Anchor | None = None
    label: tuple[str, str] | None = None
    removable: bool = True
    comments: tuple[Comment, ...] = ()
    body_regex: str = ""  # readback: regex the C body of the right ``if`` matches
    order: int = 50
    blank_after: bool = True  # a blank line after an inserted ``if``
    blank_before: bool = False  # a blank line before it (and its comment)
    owned_locals: tuple[str, ...] = ()
    #: readback: C spellings another site's rule may give a conjunct,
    #: ``(local, vocab C text)`` -- e.g. a snapshot local read instead of the field
    aliases: tuple[tuple[str, str], ...] = ()

    def known_comments(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.comments)

    def cond(self, site: Site, guard: Guard) -> str:
        """The C condition of the ``if`` for ``guard``."""
        return guard.c_not(site.vocab) if self.negated else guard.c(site.vocab)

    def comment_for(self, guard: Guard | None) -> str | None:
        for c in self.comments:
            if c.fits(guard):
                return c.text
        return None


@dataclass(frozen=True)
class Alternative:
    """One alternative of a choice site.

    * ``detect`` -- a complete SmPL rule body (metavariable section + ``@@`` +
      pattern, no header) that matches when the code already is this
      alternative;
    * ``transform`` -- one or more complete SmPL rules (with headers containing
      ``{p}``, the rule prefix, and ``{ctx:NAME}`` comment placeholders) that
      turn any other alternative into this one; ``{notdone}`` stands for
      "the detect rule did not match"; the rule named ``{p}_to`` is the one
      reported as ``applied``;
    * ``regex`` -- readback: matches the site's function text (whitespace
      collapsed to single spaces) exactly when the code is this alternative.
    """

    detect: str | Callable[[Variant], str]
    transform: str | Callable[[Variant], str]
    regex: str


@dataclass(frozen=True)
class ChoiceShape(Shape):
    """A choice site: one :class:`Alternative` per value."""

    alternatives: Mapping[str, Alternative]
    #: ``(variant) -> bool``: whether the choice has C in this variant at all
    when: Callable[[Variant], bool] | None = None
    #: named comments the transforms may place: ``{ctx:NAME}`` -> text
    comment_texts: Mapping[str, str] = field(default_factory=dict)
    order: int = 50
    owned_locals: tuple[str, ...] = ()

    def applicable(self, site: Site, variant: Variant) -> bool:
        return self.when is None or self.when(variant)

    def known_comments(self) -> tuple[str, ...]:
        return tuple(self.comment_texts.values())


@dataclass(frozen=True)
class PublishOrder(Shape):
    """An *order* site: statement ``stmt`` (C text) of ``function`` sits right
    after the ``E = register(...); if (E) S`` pair (:data:`AFTER`) or right
    before the call (:data:`BEFORE`).

    ``comment`` is the comment the C has above ``stmt``: it moves with it.
    ``check`` is the error check after the call as the rule spells it (a
    function where spatch does not match ``if (E) S`` against the ``goto`` can
    name the label: ``"if (E) goto remove_sysfs;"``).  ``checked=False`` is for
    drivers that ignore the result: the call is a bare ``register(...);``.
    ``transforms`` replaces the generated transform rules of some alternatives
    (SmPL, as in :class:`Alternative`) where the code around the call differs
    from the plain ``E = register(...); if (E) S``; detection and readback stay.
    ``enclosing`` is the condition of an ``if`` the registration call sits in
    when the C publishes ``stmt`` for every instance, outside that ``if``: the
    *before* alternative then puts ``stmt`` in front of the whole ``if``, so it
    still runs for instances that do not register (ipmmu-vmsa's root IPMMU-MM).
    """

    function: str
    stmt: str
    comment: str | None = None
    register: str = "iommu_device_register"
    check: str = "if (E) S"
    checked: bool = True
    transforms: Mapping[str, str] = field(default_factory=dict)
    enclosing: str | None = None

    def known_comments(self) -> tuple[str, ...]:
        return (self.comment,) if self.comment else ()


@dataclass(frozen=True)
class Place:
    """``anchor`` (an SmPL statement, metavariables in ``metavars``) and whether
    the ``if`` goes right ``after`` it (else right before); ``regex`` reads the
    placement back from the function text (whitespace collapsed)."""

    anchor: str
    after: bool
    regex: str
    metavars: str = ""


@dataclass(frozen=True)
class MoveIf(Shape):
    """A *placement* site: the ``if`` matched by ``find`` (an SmPL statement
    pattern whose condition is the metavariable ``E``, or a function of the
    variant giving one) sits at one of ``places``, re-emitted as ``if (E)`` +
    ``body(variant)`` (C text).

    ``comment(variant)`` names the ``{ctx:NAME}`` comment that goes with the
    moved statement (a key of ``comment_texts``).
    """

    site: str
    function: str
    find: str | Callable[[Variant], str]
    body: Callable[[Variant], str]
    places: Mapping[str, Place]
    comment: Callable[[Variant], str] | None = None
    comment_texts: Mapping[str, str] = field(default_factory=dict)
    when: Callable[[Variant], bool] | None = None
    order: int = 50

    def applicable(self, site: Site, variant: Variant) -> bool:
        return self.when is None or self.when(variant)

    def known_comments(self) -> tuple[str, ...]:
        return tuple(self.comment_texts.values())


@dataclass(frozen=True)
class DevmOwner(Shape):
    """An *allocation owner* site: ``var = devm_kzalloc(OWNER, size, GFP_KERNEL);``
    in ``function``, one alternative per ``owners`` entry (name -> owner C
    expression).

    ``lookup = (name, pointer, lookup statement SmPL, put call)``: an extra
    alternative ``name`` whose owner is ``&pointer->dev``, allocated right after
    the lookup statement, calling ``put`` on the error path.
    """

    function: str
    var: str
    size: str
    owners: Mapping[str, str]
    lookup: tuple[str, str, str, str] | None = None


@dataclass(frozen=True)
class ReadOnce(Shape):
    """A *snapshot* site: ``T *var = derive(field);`` in ``function`` reads
    ``field`` (e.g. ``dev->driver``) and later code reads it again
    (:data:`TWICE`), or a ``ctype *local = READ_ONCE(field);`` snapshot feeds
    both (:data:`ONCE`)."""

    function: str
    field: str
    ctype: str
    local: str
    derive: str
    var: str
    when: Callable[[Variant], bool] | None = None
    order: int = 60

    def applicable(self, site: Site, variant: Variant) -> bool:
        return self.when is None or self.when(variant)


__all__ = ["AFTER", "BEFORE", "ONCE", "TWICE", "Alternative", "Anchor", "ChoiceShape",
           "Comment", "DevmOwner", "GuardedIf", "MoveIf", "Place", "PublishOrder",
           "ReadOnce", "Shape"]
