"""harness/run.py: run_scenario() -- the harness's entry point and the
``repro --json`` contract of its Result."""

from __future__ import annotations

import gc
import json

import pytest

import harness.boot as hb
from corpus.bundled import load_bundled
from harness.findings import OOPS
from harness.run import run_scenario
from harness.variant import NEXT, V614

STATS = {"devices", "iommu_instances", "registered_instances", "clients", "grouped_clients",
         "groups", "bound_drivers", "deferred"}


def test_result_json_has_the_findings_and_the_end_of_run_counts() -> None:
    p = load_bundled("rk3568-odroid-m1")
    r = run_scenario(p, V614)
    d = json.loads(json.dumps(r.to_json()))
    assert d["variant"] == "V614" and d["platform"] == p.name
    assert set(d["stats"]) == STATS and d["findings"] == []
    assert d["stats"]["registered_instances"] == d["stats"]["iommu_instances"] > 0


def test_the_seed_oops_ends_the_run_with_the_instance_unregistered() -> None:
    p = load_bundled("rk3568-odroid-m1")
    r = run_scenario(p, NEXT)
    assert r.panicked and [f.kind for f in r.findings] == [OOPS]
    # the oops hit inside the first instance's registration walk
    assert r.stats["registered_instances"] < r.stats["iommu_instances"]



def test_a_boot_runs_without_the_automatic_collector_and_gives_it_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    p = load_bundled("rk3568-odroid-m1")
    during: list[bool] = []
    viot_init = hb.acpi_viot_init

    def acpi_viot_init() -> None:  # an initcall of the boot: is the collector on?
        during.append(gc.isenabled())
        viot_init()

    monkeypatch.setattr(hb, "acpi_viot_init", acpi_viot_init)
    assert gc.isenabled()
    first = run_scenario(p, V614)
    assert during == [False] and gc.isenabled()
    gc.disable()  # a caller that manages the collector itself keeps it off
    try:
        again = run_scenario(p, V614)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert again.to_json() == first.to_json() and again.log == first.log
