"""Guard sites of drivers/iommu/iommu.c: the firmware-parsing replay in
``iommu_init_device()`` (4/4), where the ops are resolved (2/4), the late-probe
WARN, and the -EPROBE_DEFER in ``iommu_device_use_default_domain()`` (1/4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.sites.shapes import Alternative, Anchor, ChoiceShape, Comment, GuardedIf, MoveIf, Place
from harness.sites.site import G, P, PredDef, Site
from harness.sites.vocab import PROBE_DEVICE_LOCK as _LOCK
from harness.sites.vocab import device_vocab, smpl_lines

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.variant import Variant

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
_WARN_COMMENT = ("And if we do now see any replay calls, they would indicate someone\n"
                 "misusing the dma_configure path outside bus code.")
_LATE_WARN = 'dev_WARN(dev, "late IOMMU probe at driver bind, something fishy here!\\n");'
_DMAC_CALL = "dev->bus->dma_configure(dev);"
#: the dma_configure call's body per lock discipline (model: iommu_init_device)
_DMAC_BODIES = {
    "hold": _DMAC_CALL,
    "drop": (f"{{\n\tmutex_unlock({_LOCK});\n\t{_DMAC_CALL}\n\tmutex_lock({_LOCK});\n}}"),
    "drop_revalidate": (
        f"{{\n\tmutex_unlock({_LOCK});\n\t{_DMAC_CALL}\n\tmutex_lock({_LOCK});\n"
        "\tif (!dev->iommu || dev->iommu_group)\n"
        "\t\treturn dev->iommu_group ? 0 : -ENODEV;\n}"),
    # W5: serialised with binds by device_lock(), as the bind-time call is
    # (really_probe() runs under it), so the "dma_range_map already set"
    # test, the map's install and its -EPROBE_DEFER free cannot interleave
    # with device_unbind_cleanup() freeing it; dev->driver is re-read under
    # the lock (a bind may have run dma_configure since the test above).
    "device_lock": (
        f"{{\n\tmutex_unlock({_LOCK});\n\tdevice_lock(dev);\n\tif (!dev->driver)\n"
        f"\t\t{_DMAC_CALL}\n\tdevice_unlock(dev);\n\tmutex_lock({_LOCK});\n"
        "\tif (!dev->iommu || dev->iommu_group)\n"
        "\t\treturn dev->iommu_group ? 0 : -ENODEV;\n}"),
}


def _dmac_body(v: Variant) -> str:
    return _DMAC_BODIES[v.value("iommu_init_device.dma_configure_lock")]


def _lock_alternative(alt: str) -> Alternative:
    body = _DMAC_BODIES[alt]
    find = ("@{p}_find depends on {notdone}@\nexpression E;\nposition p;\n@@\n"
            " iommu_init_device(...)\n {\n <+...\n"
            f" if@p (E) {{ <+... {_DMAC_CALL} ...+> }}\n ...+>\n }}\n\n")
    to = ("@{p}_to@\nexpression E;\nstatement S;\nposition {p}_find.p;\n@@\n"
          f" if@p (E)\n-S\n{smpl_lines(body, '+')}\n")
    detect = (f"expression E;\n@@\n iommu_init_device(...)\n {{\n <+...\n if (E)\n"
              f"{smpl_lines(body, ' ')}\n ...+>\n }}")
    flat = " ".join(body.replace("\t", " ").split())
    if alt == "hold":  # the call is the if's body, not device_lock's re-test's
        regex = r"(?<!device_lock\(dev\); if \(!dev->driver)\) " + re.escape(_DMAC_CALL)
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

SITES: list[Site] = []
_add = SITES.append

_add(Site(
    name="iommu_init_device.dma_configure",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="guard",
    doc="run the bus dma_configure (firmware parsing) from the IOMMU probe path",
    v614=None,
    next=G(P("dev->driver", neg=True), P("dev->bus->dma_configure")),
    vocab=device_vocab("dev->driver", "dev->bus->dma_configure", "dev->iommu_group",
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
    doc="iommu_probe_device_lock around that dma_configure call (device_lock: dropped, "
        "and the call serialised with binds under device_lock(dev))",
    v614="drop", next="drop", alternatives=("drop", "hold", "drop_revalidate", "device_lock"),
    patch="4/4",
    c=ChoiceShape(
        order=25,
        alternatives={a: _lock_alternative(a) for a in _DMAC_BODIES},
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
    vocab=device_vocab("dev->driver", "dev->iommu_group"),
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
    return "if (E)\n" + smpl_lines(_dmac_body(v), "")
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
    c=MoveIf(
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
    c=MoveIf(
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
