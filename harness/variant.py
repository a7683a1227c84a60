"""Guard sites and variants.

Every place where the series under study (or a fix for it) changes behaviour
is a named *guard site*.  A site's value in a variant is one of:

* a :class:`Guard` -- a condition written as an ordered conjunction of state
  predicates (evaluated left to right with C's short-circuit, so a predicate
  that dereferences a pointer is only evaluated when the conjuncts before it
  held);
* ``None`` -- the guarded statement is absent from the code;
* for *choice* sites, a string naming one of the site's alternatives (which
  lock discipline, where a statement sits relative to another).

The model reads a site with :func:`check` (guards) or :func:`choice`; it never
compares variant names.  ``V614`` and ``NEXT`` are presets; the mutators
derive others.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import sites as _driver_sites
from harness.errno import ENODEV
from harness.site import G, Guard, P, Pred, PredDef, Site
from mutators.move_shapes import Place, move_if
from mutators.shapes import Alternative, Anchor, ChoiceShape, Comment, GuardedIf
from mutators.snapshot_shapes import ONCE, TWICE, read_once

# -- vocabularies --------------------------------------------------------------

def _dev(e: Mapping[str, Any]) -> Any:
    return e["dev"]


V_DEV: dict[str, PredDef] = {
    "dev->driver": PredDef("dev->driver", lambda e: _dev(e).driver is not None,
                           "a driver is bound or binding (read now)"),
    "dev->iommu": PredDef("dev->iommu", lambda e: _dev(e).iommu is not None,
                          "per-device IOMMU data exists"),
    "dev->iommu->fwspec": PredDef("dev_iommu_fwspec_get(dev)",
                                  lambda e: _dev(e).iommu is not None
                                  and _dev(e).iommu.fwspec is not None,
                                  "firmware already identified the instance"),
    "dev->iommu_group": PredDef("dev->iommu_group", lambda e: _dev(e).iommu_group is not None,
                                "already IOMMU-probed"),
    "dev->dma_range_map": PredDef("dev->dma_range_map", lambda e: _dev(e).dma_range_map is not None,
                                  "dma-ranges already parsed"),
    "dev->bus": PredDef("dev->bus", lambda e: _dev(e).bus is not None, "on a bus"),
    "dev->bus->dma_configure": PredDef(
        "dev->bus->dma_configure", lambda e: _dev(e).bus.dma_configure is not None,
        "the bus has a dma_configure hook"),
}


def _vocab(*names: str, **extra: PredDef) -> dict[str, PredDef]:
    v = {n: V_DEV[n] for n in names}
    v.update(extra)
    return v


RET_OK = PredDef("!ret", lambda e: e["ret"] == 0, "firmware configuration succeeded")
ERR_OK = PredDef("!err", lambda e: e["err"] == 0, "parsing succeeded")


def _drv_not_managed(field_name: str) -> PredDef:
    # ``drv`` is the bus driver derived from dev->driver at function entry:
    # NULL or a bogus pointer when no driver was set, so reading it faults.
    return PredDef(f"!{field_name}->driver_managed_dma",
                   lambda e: not e["drv"].driver_managed_dma,
                   "the bound driver uses the kernel DMA API")


_CLAIM = "ret = iommu_device_use_default_domain(dev);"


#: the local a bus hook snapshots dev->driver into (``<fn>.driver_read`` = once)
SNAP_LOCAL = "ddrv"


def _hook_driver(fn: str) -> PredDef:
    """``dev->driver`` in a bus hook: re-read now (twice), or the value the hook
    read at entry to derive its bus driver pointer (once: the snapshot)."""
    def read(e: Mapping[str, Any]) -> bool:
        if choice(f"{fn}.driver_read") == ONCE:
            return e["ddrv"] is not None
        return _dev(e).driver is not None
    return PredDef("dev->driver", read, "a driver is bound or binding")


def _bus_hook_c(fn: str, drvvar: str) -> GuardedIf:
    """C of a bus hook's claim: ``if (G) { ret = iommu_device_use_default_domain(dev); ...}``,
    or platform's early return ``if (!G) return ret;`` in front of the claim."""
    comment = Comment(f"@{drvvar} may not be valid when we're called from the IOMMU layer",
                      requires=("dev->driver",))
    if fn == "platform_dma_configure":
        return GuardedIf(body="return ret;", follow=_CLAIM, negated=True, removable=False,
                         comments=(comment,), aliases=((SNAP_LOCAL, "dev->driver"),),
                         body_regex=r"^\s*return ret;\s*ret = iommu_device_use_default_domain")
    return GuardedIf(body="{\n" + _CLAIM + "\n...\n}", removable=False, comments=(comment,),
                     aliases=((SNAP_LOCAL, "dev->driver"),),
                     body_regex=r"^\s*\{\s*ret = iommu_device_use_default_domain")


def _bus_hook_site(bus: str, fn: str, file: str, drvvar: str) -> Site:
    vocab = {"dev->driver": _hook_driver(fn),
             **_vocab("dev->iommu_group", "dev->iommu", "dev->dma_range_map",
                      **{"!ret": RET_OK, "!drv->driver_managed_dma": _drv_not_managed(drvvar)})}
    return Site(
        name=f"{fn}.use_default_domain",
        function=fn,
        file=file,
        kind="guard",
        doc=f"{bus} bus: when dma_configure claims the default domain for the driver",
        v614=G(P("!ret"), P("!drv->driver_managed_dma")),
        next=G(P("!ret"), P("dev->driver"), P("!drv->driver_managed_dma")),
        vocab=vocab,
        patch="4/4",
        c=_bus_hook_c(fn, drvvar),
    )


INSTANCE_REGISTERED = PredDef(
    "iommu_fwspec_ops(dev->iommu->fwspec)",
    lambda e: _instance_of(e) is not None,
    "the device's IOMMU instance is registered")


def _instance_of(e: Mapping[str, Any]) -> Any:
    from harness.iommu.iommu import iommu_fwspec_ops  # late: avoids an import cycle

    dev = e["dev"]
    fw = dev.iommu.fwspec if dev.iommu is not None else None
    return iommu_fwspec_ops(fw)


# -- C of the sites (Coccinelle rules generated by mutators.shapes) ------------------

_DMAC_COMMENT_NEXT = (
    "For FDT-based systems and ACPI IORT/VIOT, the common firmware parsing\n"
    "is buried in the bus dma_configure path. Properly unpicking that is\n"
    "still a big job, so for now just invoke the whole thing. The device\n"
    "already having a driver bound means dma_configure has already run and\n"
    "either found no IOMMU to wait for, or we're in its replay call right\n"
    "now, so either way there's no point calling it again.")
_DMAC_COMMENT = (
    "For FDT-based systems and ACPI IORT/VIOT, the common firmware parsing\n"
    "is buried in the bus dma_configure path. Properly unpicking that is\n"
    "still a big job, so for now just invoke the whole thing.")
_OPS_COMMENT_V614 = (
    "For FDT-based systems and ACPI IORT/VIOT, drivers register IOMMU\n"
    "instances with non-NULL fwnodes, and client devices should have been\n"
    "identified with a fwspec by this point. Otherwise, we can currently\n"
    "assume that only one of Intel, AMD, s390, PAMU or legacy SMMUv2 can\n"
    "be present, and that any of their registered instances has suitable\n"
    "ops for probing, and thus cheekily co-opt the same mechanism.")
_OPS_COMMENT_NEXT = (
    "At this point, relevant devices either now have a fwspec which will\n"
    "match ops registered with a non-NULL fwnode, or we can reasonably\n"
    "assume that only one of Intel, AMD, s390, PAMU or legacy SMMUv2 can\n"
    "be present, and that any of their registered instances has suitable\n"
    "ops for probing, and thus cheekily co-opt the same mechanism.")
_REPLAY_COMMENT = ("If we're not on the iommu_probe_device() path (as indicated by the\n"
                   "initial dev->iommu) then try to simulate it. This should no longer\n"
                   "happen unless of_dma_configure() is being misused outside bus code.")
_WARN_COMMENT = ("And if we do now see any replay calls, they would indicate someone\n"
                 "misusing the dma_configure path outside bus code.")
_LATE_WARN = 'dev_WARN(dev, "late IOMMU probe at driver bind, something fishy here!\\n");'
_LOCK = "&iommu_probe_device_lock"
_DMAC_CALL = "dev->bus->dma_configure(dev);"
#: the dma_configure call's body per lock discipline (model: iommu_init_device)
_DMAC_BODIES = {
    "hold": _DMAC_CALL,
    "drop": (f"{{\n\tmutex_unlock({_LOCK});\n\t{_DMAC_CALL}\n\tmutex_lock({_LOCK});\n}}"),
    "drop_revalidate": (
        f"{{\n\tmutex_unlock({_LOCK});\n\t{_DMAC_CALL}\n\tmutex_lock({_LOCK});\n"
        "\tif (!dev->iommu || dev->iommu_group)\n"
        "\t\treturn dev->iommu_group ? 0 : -ENODEV;\n}"),
}


def _dmac_body(v: Variant) -> str:
    return _DMAC_BODIES[v.value("iommu_init_device.dma_configure_lock")]


def _smpl_lines(c_text: str, sign: str) -> str:
    return "\n".join(sign + ln.strip() for ln in c_text.splitlines())


def _lock_alternative(alt: str) -> Alternative:
    body = _DMAC_BODIES[alt]
    find = ("@{p}_find depends on {notdone}@\nexpression E;\nposition p;\n@@\n"
            " iommu_init_device(...)\n {\n <+...\n"
            f" if@p (E) {{ <+... {_DMAC_CALL} ...+> }}\n ...+>\n }}\n\n")
    to = ("@{p}_to@\nexpression E;\nstatement S;\nposition {p}_find.p;\n@@\n"
          f" if@p (E)\n-S\n{_smpl_lines(body, '+')}\n")
    detect = (f"expression E;\n@@\n iommu_init_device(...)\n {{\n <+...\n if (E)\n"
              f"{_smpl_lines(body, ' ')}\n ...+>\n }}")
    flat = " ".join(body.replace("\t", " ").split())
    if alt == "hold":
        regex = r"\) " + re.escape(_DMAC_CALL)
    else:
        regex = re.escape(flat) + "$" if False else re.escape(flat)
        if alt == "drop":  # not followed by a re-validation
            regex = re.escape(flat[:-1]) + r"\}"
    return Alternative(detect=detect, transform=find + to, regex=regex)


def _ops_to_init_device(v: Variant) -> str:
    cmt = "{ctx:next}" if v.value("iommu_init_device.dma_configure") is not None else "{ctx:v614}"
    return f"""@{{p}}_to depends on {{notdone}}@
identifier ops;
@@
-static int iommu_init_device(struct device *dev, const struct iommu_ops *ops)
+static int iommu_init_device(struct device *dev)
 {{
+const struct iommu_ops *ops;
 ...
 if (!dev_iommu_get(dev))
   return -ENOMEM;
+{cmt}
+ops = iommu_fwspec_ops(dev->iommu->fwspec);
+if (!ops) {{
+	ret = -ENODEV;
+	goto err_free;
+}}
+PROBEFUZZ_BLANK();
 ...
 }}

@{{p}}_caller depends on {{p}}_to@
@@
 __iommu_probe_device(...)
 {{
 ...
-const struct iommu_ops *ops;
 ...
-ops = iommu_fwspec_ops(dev_iommu_fwspec_get(dev));
-if (!ops)
-  return -ENODEV;
 ...
-iommu_init_device(dev, ops)
+iommu_init_device(dev)
 ...
 }}
"""


_OPS_TO_PROBE = """@{p}_to depends on {notdone}@
@@
-static int iommu_init_device(struct device *dev)
+static int iommu_init_device(struct device *dev, const struct iommu_ops *ops)
 {
-const struct iommu_ops *ops;
 ...
-ops = iommu_fwspec_ops(...);
-if (!ops) { ... }
 ...
 }

@{p}_caller depends on {p}_to@
@@
 __iommu_probe_device(...)
 {
+const struct iommu_ops *ops;
 ...
+{ctx:v614}
+ops = iommu_fwspec_ops(dev_iommu_fwspec_get(dev));
+if (!ops)
+	return -ENODEV;
 lockdep_assert_held(&iommu_probe_device_lock);
 ...
-iommu_init_device(dev)
+iommu_init_device(dev, ops)
 ...
 }
"""

_OPS_LOOKUP_C = ChoiceShape(
    order=10,
    alternatives={
        "iommu_init_device": Alternative(
            detect="@@\n static int iommu_init_device(struct device *dev) { ... }",
            transform=_ops_to_init_device,
            regex=r"^static int iommu_init_device\(struct device \*dev\) \{"),
        "__iommu_probe_device": Alternative(
            detect=("@@\n static int iommu_init_device(struct device *dev, "
                    "const struct iommu_ops *ops) { ... }"),
            transform=_OPS_TO_PROBE,
            regex=r"^static int iommu_init_device\(struct device \*dev, "
                  r"const struct iommu_ops \*ops\) \{"),
    },
    comment_texts={"next": _OPS_COMMENT_NEXT, "v614": _OPS_COMMENT_V614},
)

_CLEANUP_EXACT = ("if (err && dev_iommu_present)\n\tiommu_fwspec_free(dev);\n"
                  "else if (err && dev->iommu)\n\tdev_iommu_free(dev);")
_CLEANUP_FWSPEC = "if (err)\n\tiommu_fwspec_free(dev);"
_CLEANUP_C = ChoiceShape(
    owned_locals=("dev_iommu_present",),
    alternatives={
        "exact": Alternative(
            detect=("@@\n of_iommu_configure(...)\n {\n <+...\n"
                    + _smpl_lines(_CLEANUP_EXACT, " ") + "\n ...+>\n }"),
            transform=("@{p}_to depends on {notdone}@\n@@\n of_iommu_configure(...)\n {\n"
                       " <+...\n" + _smpl_lines(_CLEANUP_FWSPEC, "-") + "\n"
                       + _smpl_lines(_CLEANUP_EXACT, "+") + "\n mutex_unlock(" + _LOCK + ");\n"
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
                    + _smpl_lines(_CLEANUP_FWSPEC, " ") + "\n mutex_unlock(" + _LOCK + ");\n"
                    " ...+>\n }"),
            transform=("@{p}_to depends on {notdone}@\n@@\n of_iommu_configure(...)\n {\n"
                       " <+...\n" + _smpl_lines(_CLEANUP_EXACT, "-") + "\n"
                       + _smpl_lines(_CLEANUP_FWSPEC, "+") + "\n ...+>\n }\n"),
            # (the replay may sit in between: site of_iommu_configure.replay_lock)
            regex=(r"if \(err\) iommu_fwspec_free\(dev\); "
                   r"(?:if \([^;]*\) err = iommu_probe_device\(dev\); )?mutex_unlock")),
    },
)

SITES: dict[str, Site] = {}


def _add(s: Site) -> None:
    SITES[s.name] = s


_add(Site(
    name="iommu_init_device.dma_configure",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="guard",
    doc="run the bus dma_configure (firmware parsing) from the IOMMU probe path",
    v614=None,
    next=G(P("dev->driver", neg=True), P("dev->bus->dma_configure")),
    vocab=_vocab("dev->driver", "dev->bus->dma_configure", "dev->iommu_group",
                 "dev->iommu->fwspec", "dev->dma_range_map"),
    patch="4/4",
    c=GuardedIf(
        order=20,
        blank_after=False,
        body=f"(\n{{\n<+... {_DMAC_CALL} ...+>\n}}\n|\n{_DMAC_CALL}\n)",
        insert_body=_dmac_body,
        anchor=Anchor(before="if (!dev_iommu_get(dev))\n  return -ENOMEM;"),
        comments=(Comment(_DMAC_COMMENT_NEXT, ("!dev->driver",)), Comment(_DMAC_COMMENT)),
        body_regex=r"^\s*(\{[^}]*)?dev->bus->dma_configure\(dev\);")))
_add(Site(
    name="iommu_init_device.dma_configure_lock",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    doc="iommu_probe_device_lock around that dma_configure call",
    v614="drop", next="drop", alternatives=("drop", "hold", "drop_revalidate"),
    patch="4/4",
    c=ChoiceShape(
        order=25,
        alternatives={a: _lock_alternative(a) for a in ("drop", "hold", "drop_revalidate")},
        when=lambda v: v.value("iommu_init_device.dma_configure") is not None)))
WARN_EACH = "dev_WARN"
WARN_ONCE = "dev_WARN_ONCE"
_LATE_WARN_ONCE = _LATE_WARN.replace("dev_WARN(dev, ", "dev_WARN_ONCE(dev, 1, ")
_WARN_RE = r"dev_WARN(?:_ONCE)?\(dev,"


def _late_warn_c(v: Variant) -> str:
    """The WARN statement in the form the variant gives it (site late_probe_warn_form)."""
    return _LATE_WARN_ONCE if v.value("iommu_init_device.late_probe_warn_form") == WARN_ONCE \
        else _LATE_WARN


def _late_warn_if(v: Variant) -> str:
    return "if (E)\n" + _late_warn_c(v).split("(", 1)[0] + "(dev, ...);"


_add(Site(
    name="iommu_init_device.late_probe_warn",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="guard",
    doc='dev_WARN "late IOMMU probe at driver bind"',
    v614=None, next=G(P("dev->driver")),
    vocab=_vocab("dev->driver", "dev->iommu_group"),
    patch="4/4",
    c=GuardedIf(
        order=30,
        body="(\ndev_WARN(dev, ...);\n|\ndev_WARN_ONCE(dev, ...);\n)",
        insert_body=_late_warn_c,
        anchor=Anchor(after="if (!try_module_get(ops->owner)) S", metavars="statement S;"),
        comments=(Comment(_WARN_COMMENT),),
        body_regex=r"^\s*" + _WARN_RE)))


def _warn_form(form: str, other: str, args: str, other_args: str, regex: str) -> Alternative:
    return Alternative(
        detect=f"@@\n iommu_init_device(...)\n {{\n <+... {form}({args}...); ...+>\n }}",
        transform=(f"@{{p}}_to depends on {{notdone}}@\nexpression list es;\n@@\n"
                   f" iommu_init_device(...)\n {{\n <+...\n-{other}({other_args}es);\n"
                   f"+{form}({args}es);\n ...+>\n }}\n"),
        regex=regex)


_add(Site(
    name="iommu_init_device.late_probe_warn_form",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    doc="the late-probe warning on every late probe (dev_WARN) or on the first only (dev_WARN_ONCE)",
    v614=WARN_EACH, next=WARN_EACH, alternatives=(WARN_EACH, WARN_ONCE),
    patch="4/4",
    c=ChoiceShape(
        order=33,  # before the placement rules (35), which look for the WARN in its new form
        alternatives={
            WARN_EACH: _warn_form("dev_WARN", "dev_WARN_ONCE", "dev, ", "dev, 1, ",
                                  r'dev_WARN\(dev, "late IOMMU probe'),
            WARN_ONCE: _warn_form("dev_WARN_ONCE", "dev_WARN", "dev, 1, ", "dev, ",
                                  r'dev_WARN_ONCE\(dev, 1, "late IOMMU probe')},
        when=lambda v: v.value("iommu_init_device.late_probe_warn") is not None)))
_GET = "if (!dev_iommu_get(dev))\n  return -ENOMEM;"
DMAC_AFTER_GET = "after_dev_iommu_get"
DMAC_BEFORE_GET = "before_dev_iommu_get"


def _dmac_if(v: Variant) -> str:
    """SmPL of the replay ``if`` as the lock rule (order 25) left it."""
    return "if (E)\n" + _smpl_lines(_dmac_body(v), "")
_GET_TEXT = r"if \(!dev_iommu_get\(dev\)\) return -ENOMEM;"


def _dmac_comment(v: Variant) -> str:
    return "next" if Comment(_DMAC_COMMENT_NEXT, ("!dev->driver",)).fits(
        v.value("iommu_init_device.dma_configure")) else "plain"


_add(Site(
    name="iommu_init_device.dma_configure_position",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    # after: dev->iommu exists, so of_iommu_configure() sees dev_iommu_present
    doc="where the dma_configure replay sits relative to dev_iommu_get()",
    v614=DMAC_AFTER_GET, next=DMAC_AFTER_GET, alternatives=(DMAC_AFTER_GET, DMAC_BEFORE_GET),
    patch="4/4",
    c=move_if(
        "iommu_init_device.dma_configure_position", "iommu_init_device",
        find=_dmac_if, body=lambda v: _dmac_body(v),
        comment=_dmac_comment,
        comment_texts={"next": _DMAC_COMMENT_NEXT, "plain": _DMAC_COMMENT},
        places={DMAC_AFTER_GET: Place(_GET, after=True,
                                      regex=_GET_TEXT + r".*dev->bus->dma_configure\(dev\)"),
                DMAC_BEFORE_GET: Place(_GET, after=False,
                                       regex=r"dev->bus->dma_configure\(dev\).*" + _GET_TEXT)},
        when=lambda v: v.value("iommu_init_device.dma_configure") is not None,
        order=27)))
WARN_AFTER = "after_dma_configure"
WARN_BEFORE = "before_dma_configure"
_add(Site(
    name="iommu_init_device.late_probe_warn_position",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    # after: it reads dev->driver after the unlocked window, and devices without
    # ops never reach it; before: right after dev_iommu_get()
    doc="where the late-probe dev_WARN sits relative to the dma_configure replay",
    v614=WARN_AFTER, next=WARN_AFTER, alternatives=(WARN_AFTER, WARN_BEFORE),
    patch="4/4",
    c=move_if(
        "iommu_init_device.late_probe_warn_position", "iommu_init_device",
        find=_late_warn_if, body=_late_warn_c,
        places={WARN_AFTER: Place("if (!try_module_get(ops->owner)) S1", after=False,
                                  metavars="statement S1;",
                                  regex=r"dev->bus->dma_configure\(dev\).*" + _WARN_RE),
                WARN_BEFORE: Place(_GET, after=True,
                                   regex=_WARN_RE + r".*dev->bus->dma_configure\(dev\)")},
        comment=lambda v: "warn", comment_texts={"warn": _WARN_COMMENT},
        # "before the replay" is right after dev_iommu_get(): only with the replay there
        when=lambda v: (v.value("iommu_init_device.late_probe_warn") is not None
                        and v.value("iommu_init_device.dma_configure") is not None
                        and v.value("iommu_init_device.dma_configure_position")
                        == DMAC_AFTER_GET),
        order=35)))
_add(Site(
    name="iommu_init_device.ops_lookup",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    doc="where the instance ops are resolved from the fwspec",
    v614="__iommu_probe_device", next="iommu_init_device",
    alternatives=("__iommu_probe_device", "iommu_init_device"),
    patch="2/4",
    c=_OPS_LOOKUP_C))
_add(Site(
    name="iommu_device_use_default_domain.defer",
    function="iommu_device_use_default_domain", file="drivers/iommu/iommu.c", kind="guard",
    doc="-EPROBE_DEFER while the group has no default domain yet",
    v614=None, next=G(P("!group->default_domain")),
    vocab={"!group->default_domain": PredDef(
        "!group->default_domain", lambda e: e["group"].default_domain is None,
        "the registration walk has not finished the group")},
    patch="1/4",
    c=GuardedIf(
        body="{\nret = -EPROBE_DEFER;\ngoto unlock_out;\n}",
        insert_body=lambda v: "{\n\tret = -EPROBE_DEFER;\n\tgoto unlock_out;\n}",
        anchor=Anchor(before="mutex_lock(&group->mutex);"),
        comments=(Comment("We may race against bus_iommu_probe() finalising groups here",
                          ("!group->default_domain",)),),
        body_regex=r"^\s*\{\s*ret = -EPROBE_DEFER;")))
_add(Site(
    name="of_iommu_configure.replay",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="guard",
    doc="replay iommu_probe_device() after a successful parse",
    v614=G(P("!err"), P("dev->bus")),
    next=G(P("!err"), P("dev->bus"), P("dev_iommu_present", neg=True)),
    vocab=_vocab("dev->bus", "dev->driver", "dev->iommu_group",
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
    c=move_if(
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
_add(Site(
    name="acpi_iommu_configure_id.replay",
    function="acpi_iommu_configure_id", file="drivers/acpi/scan.c", kind="guard",
    doc="replay iommu_probe_device() after IORT/VIOT configuration",
    v614=G(P("!err"), P("dev->bus")), next=None,
    vocab=_vocab("dev->bus", "dev->driver", "dev->iommu_group", **{"!err": ERR_OK}),
    patch="4/4",
    c=GuardedIf(
        body="err = iommu_probe_device(dev);",
        insert_body=lambda v: "err = iommu_probe_device(dev);",
        anchor=Anchor(before=f"mutex_unlock({_LOCK});", after="return err;"),
        blank_before=True,
        comments=(Comment("If we have reason to believe the IOMMU driver missed the initial\n"
                          "iommu_probe_device() call for dev, replay it to get things in "
                          "order."),),
        body_regex=r"^\s*err = iommu_probe_device\(dev\);")))
_add(Site(
    name="of_dma_configure_id.skip_range_map",
    function="of_dma_configure_id", file="drivers/of/device.c", kind="guard",
    doc='skip dma-ranges parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4",
    c=GuardedIf(
        body="{\ndev_dbg(...);\ngoto skip_map;\n}",
        insert_body=lambda v: '{\n\tdev_dbg(dev, "dma_range_map already set\\n");\n'
                              '\tgoto skip_map;\n}',
        anchor=Anchor(after="if (np == dev->of_node) S1 else S2", metavars="statement S1, S2;"),
        label=("skip_map", "if (!dev->dma_mask) { ... }"),
        body_regex=r'^\s*\{\s*dev_dbg\(dev, "dma_range_map already set')))
_add(Site(
    name="acpi_arch_dma_setup.skip_range_map",
    function="acpi_arch_dma_setup", file="drivers/acpi/arm64/dma.c", kind="guard",
    doc='skip _DMA parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4",
    c=GuardedIf(
        body="{\ndev_dbg(...);\nreturn;\n}",
        insert_body=lambda v: '{\n\tdev_dbg(dev, "dma_range_map already set\\n");\n'
                              '\treturn;\n}',
        anchor=Anchor(after="ret = acpi_dma_get_range(dev, &map);"),
        body_regex=r'^\s*\{\s*dev_dbg\(dev, "dma_range_map already set')))
def _tests_driver(guard_site: str) -> Any:
    def when(v: Variant) -> bool:
        g = v.value(guard_site)
        return g is not None and any(p.name == "dev->driver" for p in g.conj)
    return when


def _snapshot_site(fn: str, file: str, drvvar: str, derive: str) -> Site:
    return Site(
        name=f"{fn}.driver_read", function=fn, file=file, kind="choice",
        doc=("reads of dev->driver: at entry and again in the guard (twice), or one "
             f"READ_ONCE() snapshot `{SNAP_LOCAL}` (once)"),
        v614=TWICE, next=TWICE, alternatives=(TWICE, ONCE),
        c=read_once(fn, "dev->driver", "struct device_driver", SNAP_LOCAL, derive, drvvar,
                    when=_tests_driver(f"{fn}.use_default_domain")))


for _bus, _fn, _file, _drv, _derive in (
    ("platform", "platform_dma_configure", "drivers/base/platform.c", "drv", "to_platform_driver"),
    ("amba", "amba_dma_configure", "drivers/amba/bus.c", "drv", "to_amba_driver"),
    ("pci", "pci_dma_configure", "drivers/pci/pci-driver.c", "driver", "to_pci_driver"),
    ("fsl-mc", "fsl_mc_dma_configure", "drivers/bus/fsl-mc/fsl-mc-bus.c", "mc_drv",
     "to_fsl_mc_driver"),
    ("cdx", "cdx_dma_configure", "drivers/cdx/cdx.c", "cdx_drv", "to_cdx_driver"),
):
    _add(_bus_hook_site(_bus, _fn, _file, _drv))
    _add(_snapshot_site(_fn, _file, _drv, _derive))
# IOMMU driver sites (probe order: where a driver publishes the state its
# callbacks read, relative to iommu_device_register()), one module per driver.
for _s in _driver_sites.collect():
    _add(_s)


@dataclass(frozen=True)
class Variant:
    """A value for every site.  ``values`` holds only sites that differ from V614."""

    name: str
    description: str
    values: tuple[tuple[str, Any], ...] = ()

    def value(self, site: str) -> Any:
        for k, v in self.values:
            if k == site:
                return v
        return SITES[site].v614

    def as_dict(self) -> dict[str, Any]:
        return {name: self.value(name) for name in SITES}

    def fingerprint(self) -> str:
        """Stable hash of the semantics (not the name)."""
        blob = json.dumps({k: render_value(SITES[k], v) for k, v in self.as_dict().items()},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def with_values(self, name: str, description: str, **changes: Any) -> Variant:
        d = self.as_dict()
        for k, v in changes.items():
            if k not in SITES:
                raise KeyError(f"unknown guard site {k!r}")
            d[k] = v
        return make_variant(name, description, d)


def make_variant(name: str, description: str, values: Mapping[str, Any]) -> Variant:
    diff = tuple(sorted((k, v) for k, v in values.items() if v != SITES[k].v614))
    return Variant(name, description, diff)


def render_value(site: Site, v: Any) -> str:
    """Human/C-ish text of a site value."""
    if v is None:
        return "(absent)"
    if isinstance(v, Guard):
        return f"if ({v.c(site.vocab)})"
    return str(v)


V614 = Variant("V614", "v6.14: before the series")
NEXT = make_variant(
    "NEXT",
    "linux-next at bcb81ac6ae3c: the four-patch series, IOMMU drivers as in v6.14",
    {name: s.next for name, s in SITES.items()},
)
PRESETS: dict[str, Variant] = {"V614": V614, "NEXT": NEXT}


class VariantError(ValueError):
    pass


def variant_to_json(v: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name, "description": v.description, "sites": {}}
    for name in SITES:
        val = v.value(name)
        out["sites"][name] = _value_json(val)
    return out


def _value_json(val: Any) -> Any:
    if isinstance(val, Guard):
        return {"guard": [str(p) for p in val.conj]}
    return val


def _value_from_json(site: Site, raw: Any, where: str) -> Any:
    if raw is None:
        return None
    if site.kind == "choice":
        if raw not in site.alternatives:
            raise VariantError(f"{where}: {raw!r} is not one of {', '.join(site.alternatives)}")
        return raw
    if not isinstance(raw, dict) or not isinstance(raw.get("guard"), list):
        raise VariantError(f"{where}: expected null or {{\"guard\": [...]}}")
    preds = []
    for item in raw["guard"]:
        if not isinstance(item, str):
            raise VariantError(f"{where}: guard conjuncts are strings")
        neg = item.startswith("!") and item[1:] in site.vocab
        name = item[1:] if neg else item
        if name not in site.vocab:
            raise VariantError(f"{where}: {item!r} is not a predicate of this site "
                               f"({', '.join(site.vocab)})")
        preds.append(Pred(name, neg))
    return Guard(tuple(preds))


def variant_from_json(data: Any, source: str = "<variant>") -> Variant:
    """Read a saved variant; unknown sites or predicates are errors."""
    if not isinstance(data, dict) or not isinstance(data.get("sites"), dict):
        raise VariantError(f"{source}: not a variant (expected an object with 'sites')")
    values: dict[str, Any] = {}
    for k, raw in data["sites"].items():
        if k not in SITES:
            raise VariantError(f"{source}: sites.{k}: unknown guard site")
        values[k] = _value_from_json(SITES[k], raw, f"{source}: sites.{k}")
    for k, s in SITES.items():
        values.setdefault(k, s.v614)
    return make_variant(str(data.get("name", "custom")), str(data.get("description", "")), values)


# -- what the model calls ------------------------------------------------------

_active: Variant = V614
_active_values: dict[str, Any] = V614.as_dict()


def activate(v: Variant) -> None:
    """Make ``v`` the variant the model reads (one run at a time)."""
    global _active, _active_values
    _active = v
    _active_values = v.as_dict()


def active() -> Variant:
    return _active


def present(site: str) -> bool:
    """Whether the guarded statement exists in this variant's code."""
    return _active_values[site] is not None


def check(site: str, **env: Any) -> bool:
    """Evaluate the site's guard in ``env``; False when the statement is absent."""
    g = _active_values[site]
    if g is None:
        return False
    vocab = SITES[site].vocab
    for p in g.conj:
        val = bool(vocab[p.name].read(env))
        if val == p.neg:
            return False
    return True


def choice(site: str) -> str:
    v = _active_values[site]
    assert isinstance(v, str), site
    return v


# Kept for the modules that translate an -ENODEV into "not behind an IOMMU".
__all__ = ["ENODEV", "SITES", "Variant", "V614", "NEXT", "PRESETS", "check", "choice", "present"]
