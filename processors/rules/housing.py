"""Blok III routing and the cross-checks of Blok III with Blok V and item 501.

Each skip ("asked only when") gives two rules: ``<ITEM>_UNEXPECTED`` (filled
where the route skips it) and ``<ITEM>_MISSING`` (empty where the route asks
it). Severities follow the principle stated in :mod:`processors.rules.items`:
ERROR only when the filled answer contradicts its routing answer (power
meters for a dwelling without metered PLN electricity), WARNING otherwise.
Missing answers are flagged for COMPLETE results only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from processors.rules.base import (
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    hit,
    is_complete,
    make_rule,
)
from processors.rules.labels import label, yes_no

WELLS_AND_SPRINGS = frozenset(
    {
        "BOREHOLE_PUMP",
        "PROTECTED_WELL",
        "UNPROTECTED_WELL",
        "PROTECTED_SPRING",
        "UNPROTECTED_SPRING",
    }
)
OWN_OR_SHARED_TOILET = frozenset(
    {"OWN_FAMILY_ONLY", "SHARED_WITH_SPECIFIC_HOUSEHOLDS", "COMMUNAL_MCK"}
)
LARGE_LPG = frozenset({"LPG_5_5_KG", "LPG_12_KG"})
#: Item 502 appliances that need electricity at home (S4: b, c, d, f, h).
APPLIANCES: tuple[tuple[str, str, str, str], ...] = (
    ("refrigerator", "502b", "lemari es/kulkas", "refrigerator"),
    ("air_conditioner", "502c", "AC", "air conditioner"),
    ("water_heater", "502d", "pemanas air (water heater)", "water heater"),
    ("flat_tv", "502f", "televisi layar datar", "flat-screen TV"),
    ("computer", "502h", "komputer/laptop", "computer"),
)
FLOOR_AREA_MIN, FLOOR_AREA_MAX = 1, 997


@dataclass(frozen=True)
class Skip:
    """A housing item asked only when another item has certain answers."""

    name: str
    field: str
    item: str
    label_id: str
    label_en: str
    gate_id: str
    gate_en: str
    asked: Callable[[Record], bool]


def _filled(value: object) -> bool:
    return value is not None and value != []


def _skip_detector(skip: Skip, *, unexpected: bool) -> Callable[[Record, RuleContext], list[Hit]]:
    def detect(record: Record, ctx: RuleContext) -> list[Hit]:
        housing = record.get("housing")
        if housing is None or (not unexpected and not is_complete(record)):
            return []
        value = housing.get(skip.field)
        asked = skip.asked(housing)
        wrong = (not asked and _filled(value)) if unexpected else (asked and not _filled(value))
        shown = ", ".join(value) if isinstance(value, list) else value
        return [hit(f"housing.{skip.field}", value=shown)] if wrong else []

    return detect


def skip_rules(skip: Skip, unexpected: Severity | None, missing: Severity) -> list[Rule]:
    """The UNEXPECTED (unless ``None``) and MISSING rules of one skip."""
    rules = []
    if unexpected is not None:
        rules.append(
            make_rule(
                f"{skip.name}_UNEXPECTED",
                unexpected,
                skip.item,
                f"{skip.label_id} terisi ({{value}}), padahal hanya ditanyakan jika "
                f"{skip.gate_id}.",
                f"{skip.label_en} is filled ({{value}}) although it is asked only when "
                f"{skip.gate_en}.",
                detect=_skip_detector(skip, unexpected=True),
                rationale="Contradicts its routing answer; one of the two is false."
                if unexpected is Severity.ERROR
                else "Harmless extra answer; analysts ignore it by the routing answer.",
            )
        )
    rules.append(
        make_rule(
            f"{skip.name}_MISSING",
            missing,
            skip.item,
            f"{skip.label_id} kosong, padahal wajib diisi jika {skip.gate_id}.",
            f"{skip.label_en} is missing although it is required when {skip.gate_en}.",
            detect=_skip_detector(skip, unexpected=False),
            rationale="A gap to fill in a callback.",
        )
    )
    return rules


SKIPS: tuple[tuple[Skip, Severity | None, Severity], ...] = (
    (
        Skip(
            "OWNERSHIP_PROOF",
            "ownership_proof",
            "301a-301b",
            "Bukti kepemilikan tanah (Rincian 301b)",
            "Proof of land ownership (item 301b)",
            "Rincian 301a = 1 (milik sendiri)",
            "item 301a is 1 (owned)",
            lambda housing: housing.get("tenure") == "OWNED",
        ),
        Severity.WARNING,
        Severity.WARNING,
    ),
    (
        Skip(
            "WATER_DISTANCE",
            "water_waste_distance",
            "306a-306b",
            "Jarak sumber air minum ke penampungan limbah/tinja (Rincian 306b)",
            "Distance from the drinking-water source to the waste pit (item 306b)",
            "Rincian 306a = 4-8 (sumur atau mata air)",
            "item 306a is 4-8 (a well or spring)",
            lambda housing: housing.get("drinking_water") in WELLS_AND_SPRINGS,
        ),
        Severity.WARNING,
        Severity.WARNING,
    ),
    (
        Skip(
            "INSTALLED_POWER",
            "installed_power",
            "307a-307b",
            "Daya terpasang (Rincian 307b)",
            "Installed power (item 307b)",
            "Rincian 307a = 1 (listrik PLN dengan meteran)",
            "item 307a is 1 (metered PLN electricity)",
            lambda housing: housing.get("lighting") == "PLN_METERED",
        ),
        Severity.ERROR,
        Severity.WARNING,
    ),
    (
        Skip(
            "TOILET_TYPE",
            "toilet_type",
            "309a-309b",
            "Jenis kloset (Rincian 309b)",
            "Toilet type (item 309b)",
            "Rincian 309a = 1-3 (fasilitas sendiri, bersama, atau MCK komunal)",
            "item 309a is 1-3 (own, shared or communal facility)",
            lambda housing: housing.get("toilet") in OWN_OR_SHARED_TOILET,
        ),
        Severity.WARNING,
        Severity.WARNING,
    ),
    (
        Skip(
            "FAECES_DISPOSAL",
            "faeces_disposal",
            "309a, 310",
            "Tempat pembuangan akhir tinja (Rincian 310)",
            "Faeces disposal (item 310)",
            "Rincian 309a = 1-3 (fasilitas sendiri, bersama, atau MCK komunal)",
            "item 309a is 1-3 (own, shared or communal facility)",
            lambda housing: housing.get("toilet") in OWN_OR_SHARED_TOILET,
        ),
        None,  # S1 prints no condition on 310, so an answer is never unexpected
        Severity.WARNING,
    ),
)


def _floor_area(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    housing = record.get("housing")
    if housing is not None and not FLOOR_AREA_MIN <= housing["floor_area_m2"] <= FLOOR_AREA_MAX:
        yield hit("housing.floor_area_m2", area=housing["floor_area_m2"])


def _gas_cylinder(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    housing, assets = record.get("housing"), record.get("assets")
    if housing is None or assets is None:
        return
    fuel = housing["cooking_fuel"]
    if bool(assets["gas_cylinder_5_5kg"]) != (fuel in LARGE_LPG):
        owned = assets["gas_cylinder_5_5kg"]
        yield hit(
            "assets.gas_cylinder_5_5kg",
            owned=yes_no(owned),
            owned_en="yes" if owned else "no",
            fuel=fuel,
            fuel_id=label("CookingFuel", fuel),
        )


def _appliance_without_electricity(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    housing, assets = record.get("housing"), record.get("assets")
    if housing is None or assets is None or housing["lighting"] != "NOT_ELECTRIC":
        return
    for name, item, name_id, name_en in APPLIANCES:
        if assets.get(name):
            yield hit(f"assets.{name}", item=item, appliance_id=name_id, appliance_en=name_en)


def _power_450(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    housing, assistance = record.get("housing"), record.get("social_assistance")
    if housing is None or assistance is None:
        return
    if (
        "WATT_450" in (housing.get("installed_power") or ())
        and not assistance["electricity_subsidy"]
    ):
        yield hit("social_assistance.electricity_subsidy")


FLOOR_AREA_RANGE = make_rule(
    "FLOOR_AREA_RANGE",
    Severity.ERROR,
    "302",
    "Luas lantai (Rincian 302) = {area} m², di luar batas 1-997 m².",
    "Floor area (item 302) is {area} m², outside 1-997 m².",
    detect=_floor_area,
    rationale="The form's hard range (S3, S4); the value is a keying error.",
)
GAS_CYLINDER_FUEL = make_rule(
    "GAS_CYLINDER_FUEL",
    Severity.WARNING,
    "308, 502a",
    "Kepemilikan tabung gas 5,5 kg atau lebih (Rincian 502a = {owned}) tidak sesuai dengan "
    "bahan bakar utama memasak (Rincian 308 = {fuel_id}).",
    "Owning a gas cylinder of 5.5 kg or more (item 502a = {owned_en}) does not match the main "
    "cooking fuel (item 308 = {fuel}).",
    detect=_gas_cylinder,
    rationale=(
        "S4 is an office validator that flags for the supervisor, and the link is not strict: "
        "an owned large cylinder may sit empty while the family cooks with 3 kg LPG or wood."
    ),
)
APPLIANCE_WITHOUT_ELECTRICITY = make_rule(
    "APPLIANCE_WITHOUT_ELECTRICITY",
    Severity.ERROR,
    "307a, 502",
    "Keluarga memiliki {appliance_id} (Rincian {item}), padahal sumber penerangan utama bukan "
    "listrik (Rincian 307a = 4).",
    "The family owns a {appliance_en} (item {item}) although its main lighting is not electric "
    "(item 307a = 4).",
    detect=_appliance_without_electricity,
    rationale="S4's hard check: these appliances need mains power at home; one answer is false.",
)
POWER_450_WITHOUT_SUBSIDY = make_rule(
    "POWER_450_WITHOUT_SUBSIDY",
    Severity.WARNING,
    "307b, 501d",
    "Daya terpasang 450 watt (Rincian 307b), tetapi keluarga tidak menerima subsidi listrik "
    "(Rincian 501d).",
    "Installed power is 450 watt (item 307b) but the family did not receive the electricity "
    "subsidy (item 501d).",
    detect=_power_450,
    rationale=(
        "Every 450 VA connection is subsidised, but respondents often do not know it; a "
        "callback question, not an impossibility."
    ),
)

RULES: tuple[Rule, ...] = (
    *(
        rule
        for skip, unexpected, missing in SKIPS
        for rule in skip_rules(skip, unexpected, missing)
    ),
    FLOOR_AREA_RANGE,
    GAS_CYLINDER_FUEL,
    APPLIANCE_WITHOUT_ELECTRICITY,
    POWER_450_WITHOUT_SUBSIDY,
)
