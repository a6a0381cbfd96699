"""Blok III, V and item 501 for a simulated family: the dwelling, assets and assistance.

One latent *wealth* score per family (standard normal) tilts every answer the
same way, so a house with a ceramic floor tends to have a fridge and no PKH,
as in real data. The form's cross-item checks always hold for a clean
family, which is what :mod:`processors.rules.housing` verifies:

* proof of ownership (301b) only for an owned dwelling (301a = 1);
* distance to the waste pit (306b) only for wells and springs (306a = 4-8);
* installed power (307b, one to three meters) only for metered PLN
  electricity (307a = 1), and a 450-watt meter always with the electricity
  subsidy (501d);
* toilet type (309b) and faeces disposal (310) only with an own, shared or
  communal toilet (309a = 1-3);
* a gas cylinder of 5.5 kg or more (502a) exactly when the family cooks with
  5.5 or 12 kg LPG;
* no fridge, AC, water heater, flat TV or computer without electricity.
"""

from __future__ import annotations

import random
from typing import Any

from processors.rules.housing import LARGE_LPG, OWN_OR_SHARED_TOILET, WELLS_AND_SPRINGS
from simulator.tables import Table, between, chance, weighted

TENURE = weighted("OWNED:82 CONTRACT_OR_RENT:6 RENT_FREE:10 OFFICIAL_HOUSING:0.5 OTHER:1.5")
PROOF = weighted(
    "SHM_FAMILY:45 SHM_OTHER_WRITTEN_AGREEMENT:3 SHM_OTHER_NO_WRITTEN_AGREEMENT:5 "
    "OTHER_CERTIFICATE:2 OTHER_LETTER:33 NONE:12"
)
FLOOR_RICH = weighted(
    "CERAMIC:75 TILE_TERRAZZO:10 MARBLE_GRANITE:3 CEMENT_RED_BRICK:10 WOOD_PLANK:2"
)
FLOOR_POOR = weighted("CEMENT_RED_BRICK:45 EARTH:30 CERAMIC:15 WOOD_PLANK:5 BAMBOO:5")
WALL_RICH = weighted("MASONRY:95 WOOD_BOARD_GYPSUM:4 PLASTERED_BAMBOO_WIRE:1")
WALL_POOR = weighted(
    "MASONRY:55 WOVEN_BAMBOO:20 WOOD_BOARD_GYPSUM:12 BAMBOO:8 PLASTERED_BAMBOO_WIRE:5"
)
ROOF = weighted("CLAY_TILE:84 ZINC:5 ASBESTOS:5 CONCRETE:3 THATCH_LEAVES:1 BAMBOO:1 OTHER:1")
WATER = weighted(
    "REFILL:33 BOREHOLE_PUMP:20 PROTECTED_WELL:24 PIPED:8 BOTTLED:4 UNPROTECTED_WELL:5 "
    "PROTECTED_SPRING:4 UNPROTECTED_SPRING:1 SURFACE_WATER:0.5 RAINWATER:0.5"
)
DISTANCE = weighted("AT_LEAST_10_M:70 UNDER_10_M:20 UNKNOWN:10")
LIGHTING = weighted("PLN_METERED:93 PLN_UNMETERED:5 NON_PLN_ELECTRICITY:1 NOT_ELECTRIC:1")
POWER_RICH = weighted("WATT_900:50 WATT_1300:35 WATT_2200:10 ABOVE_2200_WATT:5")
POWER_POOR = weighted("WATT_450:55 WATT_900:45")
FUEL = weighted(
    "LPG_3_KG:75 FIREWOOD:14 LPG_12_KG:3 LPG_5_5_KG:2 NO_COOKING_AT_HOME:2 ELECTRICITY:1 "
    "KEROSENE:1 CHARCOAL:1 OTHER:1"
)
FUEL_NO_POWER = weighted("FIREWOOD:70 LPG_3_KG:25 KEROSENE:5")
TOILET = weighted(
    "OWN_FAMILY_ONLY:84 SHARED_WITH_SPECIFIC_HOUSEHOLDS:5 COMMUNAL_MCK:2 PUBLIC_MCK:3 "
    "EXISTS_NOT_USED:1 NONE:5"
)
TOILET_TYPE = weighted("GOOSENECK:90 SLOPED_PAN_WITH_LID:4 SLOPED_PAN_WITHOUT_LID:2 PIT_LATRINE:4")
DISPOSAL = weighted(
    "SEPTIC_TANK:78 PIT:10 POND_FIELD_RIVER_SEA:8 IPAL:1 BEACH_OPEN_FIELD_GARDEN:2 OTHER:1"
)
APPLIANCES = ("refrigerator", "air_conditioner", "water_heater", "flat_tv", "computer")
#: (asset, base probability, how strongly wealth raises it).
ASSET_ODDS: tuple[tuple[str, float, float], ...] = (
    ("refrigerator", 0.55, 0.25),
    ("air_conditioner", 0.04, 0.06),
    ("water_heater", 0.03, 0.04),
    ("landline_phone", 0.02, 0.02),
    ("flat_tv", 0.45, 0.25),
    ("gold_10g", 0.15, 0.12),
    ("computer", 0.12, 0.12),
    ("motorcycle", 0.82, 0.12),
    ("bicycle", 0.45, 0.0),
    ("car", 0.06, 0.08),
    ("boat", 0.01, 0.0),
    ("motor_boat", 0.01, 0.0),
    ("smartphone", 0.82, 0.15),
    ("land", 0.45, 0.1),
    ("house_elsewhere", 0.05, 0.06),
)


def _by_wealth(rng: random.Random, wealth: float, rich: Table[str], poor: Table[str]) -> str:
    return (rich if wealth + rng.gauss(0.0, 0.6) > -0.4 else poor).pick(rng)


def housing(rng: random.Random, wealth: float, people: int) -> dict[str, Any]:
    """Blok III, its skips followed."""
    tenure = TENURE.pick(rng)
    water = WATER.pick(rng)
    lighting = LIGHTING.pick(rng)
    toilet = TOILET.pick(rng)
    shared = toilet in OWN_OR_SHARED_TOILET
    power: list[str] = []
    if lighting == "PLN_METERED":
        meters = 1 if chance(rng, 0.97) else 2
        power = [_by_wealth(rng, wealth, POWER_RICH, POWER_POOR) for _ in range(meters)]
    area = round(rng.lognormvariate(3.9 + 0.25 * wealth, 0.35) + 4 * people)
    return {
        "tenure": tenure,
        "ownership_proof": PROOF.pick(rng) if tenure == "OWNED" else None,
        "floor_area_m2": min(400, max(9, area)),
        "floor_material": _by_wealth(rng, wealth, FLOOR_RICH, FLOOR_POOR),
        "wall_material": _by_wealth(rng, wealth, WALL_RICH, WALL_POOR),
        "roof_material": ROOF.pick(rng),
        "drinking_water": water,
        "water_waste_distance": DISTANCE.pick(rng) if water in WELLS_AND_SPRINGS else None,
        "lighting": lighting,
        "installed_power": power,
        "cooking_fuel": (FUEL_NO_POWER if lighting == "NOT_ELECTRIC" else FUEL).pick(rng),
        "toilet": toilet,
        "toilet_type": TOILET_TYPE.pick(rng) if shared else None,
        "faeces_disposal": DISPOSAL.pick(rng) if shared else None,
    }


def assets(rng: random.Random, wealth: float, home: dict[str, Any]) -> dict[str, Any]:
    """Blok V (item 502), consistent with the fuel (502a) and electricity (502b-h)."""
    draw = rng.random
    owned: dict[str, Any] = {
        name: draw() < base + slope * wealth for name, base, slope in ASSET_ODDS
    }
    owned["gas_cylinder_5_5kg"] = home["cooking_fuel"] in LARGE_LPG
    if home["lighting"] == "NOT_ELECTRIC":
        owned.update(dict.fromkeys(APPLIANCES, False))
    farmer = chance(rng, 0.3)
    owned["cows"] = rng.choice((1, 1, 2, 3)) if farmer and chance(rng, 0.5) else 0
    owned["buffaloes"] = 1 if farmer and chance(rng, 0.03) else 0
    owned["horses"] = 1 if chance(rng, 0.003) else 0
    owned["pigs"] = 0  # Jember is overwhelmingly Muslim
    owned["goats_sheep"] = between(rng, 1, 6) if farmer and chance(rng, 0.6) else 0
    return owned


def social_assistance(
    rng: random.Random, poor: bool, pbi: bool, home: dict[str, Any]
) -> dict[str, Any]:
    """Item 501: poorer families receive more, and a 450-watt meter always comes subsidised.

    ``pbi`` (PBI JKN, 501h) is decided with the members' item 431a before the
    dwelling is known, so it comes in rather than being drawn here.
    """
    return {
        "bpnt_sembako": poor and chance(rng, 0.7),
        "pkh": poor and chance(rng, 0.45),
        "blt_dana_desa": poor and chance(rng, 0.2),
        "electricity_subsidy": "WATT_450" in home["installed_power"] or (poor and chance(rng, 0.3)),
        "regional_aid": chance(rng, 0.03),
        "fertiliser_subsidy": chance(rng, 0.25 if poor else 0.12),
        "lpg_subsidy": home["cooking_fuel"] == "LPG_3_KG",
        "pbi_jkn": pbi,
    }
