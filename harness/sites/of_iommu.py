"""Guard sites of drivers/iommu/of_iommu.c: ``of_iommu_configure()``'s replay of
``iommu_probe_device()`` (4/4), the lock around it, and what a failed parse frees (3/4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.sites.shapes import Alternative, Anchor, ChoiceShape, Comment, GuardedIf, MoveIf, Place
from harness.sites.site import G, P, PredDef, Site
from harness.sites.vocab import ERR_OK, device_vocab, smpl_lines
from harness.sites.vocab import PROBE_DEVICE_LOCK as _LOCK

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.variant import Variant

_REPLAY_COMMENT = ("If we're not on the iommu_probe_device() path (as indicated by the\n"
                   "initial dev->iommu) then try to simulate it. This should no longer\n"
                   "happen unless of_dma_configure() is being misused outside bus code.")
_CLEANUP_EXACT = ("if (err && dev_iommu_present)\n\tiommu_fwspec_free(dev);\n"
                  "else if (err && dev->iommu)\n\tdev_iommu_free(dev);")
_CLEANUP_FWSPEC = "if (err)\n\tiommu_fwspec_free(dev);"
_CLEANUP_C = ChoiceShape(
    owned_locals=("dev_iommu_present",),
    alternatives={
        "exact": Alternative(
            detect=("@@\n of_iommu_configure(...)\n {\n <+...\n"
                    + smpl_lines(_CLEANUP_EXACT, " ") + "\n ...+>\n }"),
            transform=("@{p}_to depends on {notdone}@\n@@\n of_iommu_configure(...)\n {\n"
                       " <+...\n" + smpl_lines(_CLEANUP_FWSPEC, "-") + "\n"
                       + smpl_lines(_CLEANUP_EXACT, "+") + "\n mutex_unlock(" + _LOCK + ");\n"
                       " ...+>\n }\n\n"
                       "@{p}_decl depends on {p}_to@\n@@\n of_iommu_configure(...)\n {\n"
                       " ... when != bool dev_iommu_present;\n"
                       " if (dev_iommu_fwspec_get(dev)) { ... }\n"
                       "+dev_iommu_present = dev->iommu;\n ...\n }\n\n"
                       "@{p}_decl2 depends on {p}_decl@\n@@\n of_iommu_configure(...)\n {\n"
                       "+bool dev_iommu_present;\n ...\n }\n"),
            regex=re.escape(" ".join(_CLEANUP_EXACT.split()))),
        "fwspec_free": Alternative(
            detect=("@@\n of_iommu_configure(...)\n {\n <+...\n"
                    + smpl_lines(_CLEANUP_FWSPEC, " ") + "\n mutex_unlock(" + _LOCK + ");\n"
                    " ...+>\n }"),
            transform=("@{p}_to depends on {notdone}@\n@@\n of_iommu_configure(...)\n {\n"
                       " <+...\n" + smpl_lines(_CLEANUP_EXACT, "-") + "\n"
                       + smpl_lines(_CLEANUP_FWSPEC, "+") + "\n ...+>\n }\n"),
            # (the replay may sit in between: site of_iommu_configure.replay_lock)
            regex=(r"if \(err\) iommu_fwspec_free\(dev\); "
                   r"(?:if \([^;]*\) err = iommu_probe_device\(dev\); )?mutex_unlock")),
    },
)

SITES: list[Site] = []
_add = SITES.append

_add(Site(
    name="of_iommu_configure.replay",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="guard",
    doc="replay iommu_probe_device() after a successful parse",
    v614=G(P("!err"), P("dev->bus")),
    next=G(P("!err"), P("dev->bus"), P("dev_iommu_present", neg=True)),
    vocab=device_vocab("dev->bus", "dev->driver", "dev->iommu_group",
                 **{"!err": ERR_OK,
                    "dev_iommu_present": PredDef("dev_iommu_present",
                                                 lambda e: e["dev_iommu_present"],
                                                 "dev->iommu existed on entry")}),
    patch="4/4",
    c=GuardedIf(
        body="err = iommu_probe_device(dev);",
        insert_body=lambda v: "err = iommu_probe_device(dev);",
        anchor=Anchor(before=f"mutex_unlock({_LOCK});",
                      after="if (err && err != -EPROBE_DEFER) S", metavars="statement S;"),
        comments=(Comment(_REPLAY_COMMENT, ("!dev_iommu_present",)),),
        body_regex=r"^\s*err = iommu_probe_device\(dev\);")))
def _replay_comment(v: Variant) -> str:
    g = v.value("of_iommu_configure.replay")
    return "replay" if Comment(_REPLAY_COMMENT, ("!dev_iommu_present",)).fits(g) else "none"


REPLAY_DROP = "drop"
REPLAY_HOLD = "hold"
_add(Site(
    name="of_iommu_configure.replay_lock",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="choice",
    doc="iommu_probe_device_lock across the replay (drop: replay after mutex_unlock)",
    v614=REPLAY_DROP, next=REPLAY_DROP, alternatives=(REPLAY_DROP, REPLAY_HOLD),
    c=MoveIf(
        "of_iommu_configure.replay_lock", "of_iommu_configure",
        find="if (E)\nerr = iommu_probe_device(dev);",
        body=lambda v: "err = iommu_probe_device(dev);",
        comment=_replay_comment, comment_texts={"replay": _REPLAY_COMMENT},
        places={REPLAY_DROP: Place(
                    f"mutex_unlock({_LOCK});", after=True,
                    regex=(re.escape(f"mutex_unlock({_LOCK});")
                           + r" if \([^;]*\) err = iommu_probe_device\(dev\);")),
                REPLAY_HOLD: Place(
                    f"mutex_unlock({_LOCK});", after=False,
                    regex=r"err = iommu_probe_device\(dev\); " + re.escape(f"mutex_unlock({_LOCK});"))},
        when=lambda v: v.value("of_iommu_configure.replay") is not None,
        order=60)))
_add(Site(
    name="of_iommu_configure.cleanup",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="choice",
    doc="what a failed parse frees",
    # V614 is "exact" as well: the 6.12 C already frees only what this call
    # allocated (drivers/iommu/of_iommu.c:154-157, `dev_iommu_present` read at
    # :133); the bare iommu_fwspec_free() stays in the space as a mutation.
    v614="exact", next="exact", alternatives=("fwspec_free", "exact"),
    patch="3/4",
    c=_CLEANUP_C))
