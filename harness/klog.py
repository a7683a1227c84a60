"""Render findings as a kernel log, in the shape of the RK3568 report."""

from __future__ import annotations

from harness import findings as fnd
from harness.findings import Finding
from harness.run import Result


def _dev_prefix(f: Finding) -> str:
    return f"{f.device}: " if f.device else ""


def render_finding(f: Finding, platform_model: str = "") -> list[str]:
    """One finding as the lines the kernel would print."""
    lines: list[str] = []
    if f.kind == fnd.OOPS:
        addr = f.fault_address or 0
        if "paging request" in f.title:
            lines.append(f"Unable to handle kernel paging request at virtual address {addr:016x}")
        else:
            lines.append("Unable to handle kernel NULL pointer dereference at virtual address "
                         f"{addr:016x}")
        lines.append("Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP")
        lines.append(f"Hardware name: {platform_model or 'probefuzz model'} (DT)")
        if f.device:
            lines.append(f"device: {f.device} ({f.message})")
        pc = f.trace[0] if f.trace else "?"
        lr = f.trace[1] if len(f.trace) > 1 else "?"
        lines.append(f"pc : {pc}")
        lines.append(f"lr : {lr}")
    elif f.kind == fnd.WARNING:
        lines.append("------------[ cut here ]------------")
        lines.append(f"{_dev_prefix(f)}{f.message}")
        lines.append(f"WARNING: CPU: 0 PID: 1 at {f.function}")
    elif f.kind == fnd.DEADLOCK:
        lines.append("============================================")
        lines.append(f"WARNING: {f.title}")
        lines.append(f"{_dev_prefix(f)}{f.message}")
    else:
        lines.append(f"probefuzz: {f.kind}: {f.title}")
        lines.append(f"{_dev_prefix(f)}{f.message}" if f.message else f"{_dev_prefix(f)}".rstrip())
    if f.trace:
        lines.append("Call trace:")
        lines.extend(f"  {fn}" for fn in f.trace)
    for name, trace in f.threads.items():
        lines.append(f"other thread {name}:")
        lines.extend(f"  {fn}" for fn in trace)
    if f.kind == fnd.OOPS:
        lines.append("---[ end trace 0000000000000000 ]---")
    elif f.kind == fnd.WARNING:
        lines.append("---[ end trace 0000000000000000 ]---")
    return [ln for ln in lines if ln]


def render_result(r: Result, platform_model: str = "") -> str:
    """The whole run: findings in order, the panic line, then a summary."""
    out: list[str] = []
    for f in r.findings:
        out.extend(render_finding(f, platform_model))
        if f.kind == fnd.OOPS and r.panicked and f.thread.endswith("/1"):
            out.append("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b")
    for f in r.lints:  # info lines, after the findings: the C prints nothing here
        out.extend(render_finding(f, platform_model))
    s = r.stats
    lints = f", {len(r.lints)} lint(s)" if r.lints else ""
    out.append(
        f"probefuzz: {r.platform} under {r.variant}: {len(r.findings)} finding(s){lints}; "
        f"{s['registered_instances']}/{s['iommu_instances']} IOMMU instances registered, "
        f"{s['grouped_clients']}/{s['clients']} clients grouped, {s['groups']} groups, "
        f"{s['bound_drivers']}/{s['devices']} devices bound, {s['deferred']} deferred")
    return "\n".join(out) + "\n"
