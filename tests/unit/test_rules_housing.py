"""Blok III routing and its cross-checks with assets (502) and assistance (501)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]


def _housing(**values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["housing"].update(values)
        return ctx

    return mutate


E, W = Severity.ERROR, Severity.WARNING
TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "OWNERSHIP_PROOF_UNEXPECTED": (
        W,
        "housing.ownership_proof",
        _housing(tenure="CONTRACT_OR_RENT"),
    ),
    "OWNERSHIP_PROOF_MISSING": (W, "housing.ownership_proof", _housing(ownership_proof=None)),
    "WATER_DISTANCE_UNEXPECTED": (
        W,
        "housing.water_waste_distance",
        _housing(water_waste_distance="AT_LEAST_10_M"),
    ),
    "WATER_DISTANCE_MISSING": (
        W,
        "housing.water_waste_distance",
        _housing(drinking_water="PROTECTED_WELL"),
    ),
    "INSTALLED_POWER_UNEXPECTED": (
        E,
        "housing.installed_power",
        _housing(lighting="PLN_UNMETERED"),
    ),
    "INSTALLED_POWER_MISSING": (W, "housing.installed_power", _housing(installed_power=[])),
    "TOILET_TYPE_UNEXPECTED": (W, "housing.toilet_type", _housing(toilet="PUBLIC_MCK")),
    "TOILET_TYPE_MISSING": (W, "housing.toilet_type", _housing(toilet_type=None)),
    "FAECES_DISPOSAL_MISSING": (W, "housing.faeces_disposal", _housing(faeces_disposal=None)),
    "FLOOR_AREA_RANGE": (E, "housing.floor_area_m2", _housing(floor_area_m2=0)),
    "GAS_CYLINDER_FUEL": (W, "assets.gas_cylinder_5_5kg", _housing(cooking_fuel="LPG_12_KG")),
    "APPLIANCE_WITHOUT_ELECTRICITY": (
        E,
        "assets.refrigerator",
        _housing(lighting="NOT_ELECTRIC", installed_power=[]),
    ),
    "POWER_450_WITHOUT_SUBSIDY": (
        W,
        "social_assistance.electricity_subsidy",
        _housing(installed_power=["WATT_450"]),
    ),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    paths = {(f.severity, f.field_path) for f in hits}
    assert (severity, path) in paths and {s for s, _p in paths} == {severity}


def test_skip_messages_quote_the_routing(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"]["lighting"] = "NON_PLN_ELECTRICITY"
    (finding,) = found("INSTALLED_POWER_UNEXPECTED", record, ctx)
    assert finding.message_id == (
        "Daya terpasang (Rincian 307b) terisi (WATT_900), padahal hanya ditanyakan jika "
        "Rincian 307a = 1 (listrik PLN dengan meteran)."
    )


def test_a_well_with_its_distance_passes(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"] |= {"drinking_water": "BOREHOLE_PUMP", "water_waste_distance": "UNKNOWN"}
    assert validate(record, ctx) == []


def test_a_rented_house_without_toilet_passes(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"] |= {
        "tenure": "CONTRACT_OR_RENT",
        "ownership_proof": None,
        "toilet": "NONE",
        "toilet_type": None,
        "faeces_disposal": None,
    }
    assert validate(record, ctx) == []


def test_faeces_disposal_is_never_unexpected(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"] |= {"toilet": "PUBLIC_MCK", "toilet_type": None}
    assert validate(record, ctx) == []  # S1 prints no condition on item 310


def test_missing_housing_answers_are_not_flagged_for_incomplete_interviews(
    ctx: RuleContext,
) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {"result": "INCOMPLETE", "notes": "Dilanjutkan besok."}
    record["housing"] |= {"ownership_proof": None, "installed_power": [], "toilet_type": None}
    assert validate(record, ctx) == []


def test_every_appliance_without_electricity_is_named(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"] |= {"lighting": "NOT_ELECTRIC", "installed_power": []}
    record["assets"] |= {"computer": True, "air_conditioner": True}
    paths = [f.field_path for f in found("APPLIANCE_WITHOUT_ELECTRICITY", record, ctx)]
    assert paths == [
        "assets.refrigerator",
        "assets.air_conditioner",
        "assets.flat_tv",
        "assets.computer",
    ]


def test_gas_cylinder_both_ways(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["assets"]["gas_cylinder_5_5kg"] = True  # owns one, cooks with 3 kg LPG
    (finding,) = found("GAS_CYLINDER_FUEL", record, ctx)
    assert "(Rincian 502a = 1. Ya)" in finding.message_id
    assert "(Rincian 308 = 04. Gas elpiji 3 kg)" in finding.message_id
    record["housing"]["cooking_fuel"] = "LPG_5_5_KG"
    assert validate(record, ctx) == []


def test_subsidised_450_watt_passes(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["housing"]["installed_power"] = ["WATT_450", "WATT_900"]
    record["social_assistance"]["electricity_subsidy"] = True
    assert validate(record, ctx) == []


def test_cross_checks_skip_missing_blocks(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(assets=None, social_assistance=None)
    record["housing"] |= {"cooking_fuel": "LPG_12_KG", "installed_power": ["WATT_450"]}
    assert validate(record, ctx) == []
