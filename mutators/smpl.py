"""A site's C shape (:mod:`harness.sites.shapes`) to Coccinelle rules.

Shapes are data owned by the harness.  Here each kind becomes rules:
:class:`GuardedIf` and :class:`ChoiceShape` directly (:mod:`mutators.shapes`),
the others by lowering them to the :class:`ChoiceShape` their generator in
``mutators/*_shapes.py`` builds.  Callers that look at a shape's alternatives
(readback, propose) use :func:`lower` too, so every kind reads the same way.
"""

from __future__ import annotations

from typing import Any

from harness.sites.shapes import (
    ChoiceShape,
    DevmOwner,
    GuardedIf,
    MoveIf,
    PublishOrder,
    ReadOnce,
    Shape,
)
from harness.sites.site import Site
from mutators.move_shapes import move_if
from mutators.order_shapes import publish_order
from mutators.owner_shapes import devm_owner
from mutators.shapes import RuleContext, choice_rules, guarded_if_rules
from mutators.snapshot_shapes import read_once

# lowered shapes by id(); the shape is kept alongside so that its id stays unique
_lowered: dict[int, tuple[Shape, GuardedIf | ChoiceShape]] = {}


def lower(shape: Shape) -> GuardedIf | ChoiceShape:
    """The :class:`GuardedIf` or :class:`ChoiceShape` that generates ``shape``'s rules."""
    hit = _lowered.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    out: GuardedIf | ChoiceShape
    if isinstance(shape, (GuardedIf, ChoiceShape)):
        out = shape
    elif isinstance(shape, PublishOrder):
        out = publish_order(shape)
    elif isinstance(shape, MoveIf):
        out = move_if(shape)
    elif isinstance(shape, DevmOwner):
        out = devm_owner(shape)
    elif isinstance(shape, ReadOnce):
        out = read_once(shape)
    else:
        raise TypeError(f"no Coccinelle generator for shape {type(shape).__name__}")
    _lowered[id(shape)] = (shape, out)
    return out


def site_rules(site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
    """The rules that give ``site`` the value ``value`` (rule names start with ``prefix``)."""
    assert site.c is not None, site.name
    shape = lower(site.c)
    if isinstance(shape, GuardedIf):
        return guarded_if_rules(shape, site, value, prefix, ctx)
    return choice_rules(shape, site, value, prefix, ctx)
