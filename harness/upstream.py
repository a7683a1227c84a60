"""Where the presets' changes live upstream: the series' patches and their commits.

Data, not logic: ``propose`` names prerequisites and writes ``Fixes:`` from
here (a fix of a finding seen under a preset fixes the commit that made the
preset differ from what came before), and messages say "linux-next" rather
than a preset's short name.  Ids and subjects are the upstream ones
(see /work/shared/spec/probe-path.md section 0.2); a patch whose upstream id
is not known has ``sha`` None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesPatch:
    """One patch of a series, as ``Site.patch`` tags it ("4/4")."""

    tag: str
    subject: str
    sha: str | None = None

    def label(self) -> str:
        """``patch 4/4 ("subject")`` -- how a message names it."""
        return f'patch {self.tag} ("{self.subject}")'


@dataclass(frozen=True)
class Preset:
    """What a preset is upstream: its name in prose, its series, its culprit."""

    prose: str  # "linux-next", "v6.14"
    series: tuple[SeriesPatch, ...] = ()
    #: the commit a fix of what this preset breaks names in ``Fixes:``
    introduced_by: SeriesPatch | None = None

    def patch(self, tag: str) -> SeriesPatch | None:
        return next((p for p in self.series if p.tag == tag), None)


_SERIES = (
    SeriesPatch("1/4", "iommu: Handle race with default domain setup", "b46064a18810"),
    SeriesPatch("2/4", "iommu: Resolve ops in iommu_init_device()"),
    SeriesPatch("3/4", "iommu: Keep dev->iommu state consistent"),
    SeriesPatch("4/4", "iommu: Get DT/ACPI parsing into the proper probe path", "bcb81ac6ae3c"),
)

PRESETS: dict[str, Preset] = {
    "V614": Preset("v6.14"),
    "NEXT": Preset("linux-next", _SERIES, _SERIES[3]),
}


def preset(name: str) -> Preset | None:
    """The upstream record of a preset variant name, or None for a derived variant."""
    return PRESETS.get(name)


def prose_name(name: str) -> str:
    """A variant's name as a message says it ("linux-next" for NEXT)."""
    p = PRESETS.get(name)
    return p.prose if p is not None else name
