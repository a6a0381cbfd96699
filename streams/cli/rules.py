"""``regsosek rules``: the catalogue of validation rules and reason codes.

Prints every code an operator can meet in warnings or rejections, with its
severity, the form item it checks and its message. ``--markdown`` prints
docs/rules.md, which is generated from the same catalogue (and the enrichment
weights) and checked by a unit test, so it cannot go stale::

    regsosek rules --markdown > docs/rules.md
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import click
from rich.console import Console
from rich.table import Table

from processors import dedup, enrich
from processors.rules import BLOCKS, CATALOGUE, Rule, Severity

REGENERATE = "regsosek rules --markdown > docs/rules.md"


@click.command("rules")
@click.option(
    "--lang",
    type=click.Choice(["en", "id"]),
    default="en",
    show_default=True,
    help="Language of the messages: English or Indonesian (Bahasa Indonesia).",
)
@click.option("--markdown", is_flag=True, help="Print docs/rules.md (Markdown) instead.")
def command(lang: str, markdown: bool) -> None:
    """List every validation rule and reason code: severity, form item, message."""
    if markdown:
        click.echo(render_markdown(), nl=False)
        return
    table = Table(title=f"{len(CATALOGUE)} rules and reason codes (ERROR rejects, WARNING flags)")
    for column in ("code", "severity", "item", "message"):
        table.add_column(column, overflow="fold")
    for title, rules in BLOCKS:
        table.add_section()
        table.add_row(f"[bold]{title}[/bold]", "", "", "")
        for rule in rules:
            message = rule.message_id if lang == "id" else rule.message_en
            style = "red" if rule.severity is Severity.ERROR else "yellow"
            table.add_row(
                rule.code, f"[{style}]{rule.severity.value}[/]", rule.item or "-", message
            )
    Console(width=180).print(table)


# --- docs/rules.md ----------------------------------------------------------------------

INTRO = f"""\
# Validation rules and reason codes

Generated from the rule catalogue (`processors/rules/`) by `{REGENERATE}`;
do not edit by hand: a unit test fails when this file and the catalogue differ.

Every rule has a stable UPPER_SNAKE **code**, a **severity**, the **form item**
it checks and a message in Indonesian and English. Messages are templates; the
`{{placeholders}}` are filled with the specifics of the finding (member number,
code, value). Each finding also carries a `field_path` such as `members[2].nik`
(list indexes 0-based) so apps can highlight the field.

- **error**: the submission is rejected: it goes to `regsosek.submissions.rejected`
  and the `rejections` table with every reason and its original bytes, and can be
  replayed once fixed.
- **warning**: the submission is accepted and the finding travels in
  `ValidatedSubmission.warnings` for the supervisor (PML) to check.

How severities were chosen:

- An answer that **contradicts** the answer routing to it (an education level for
  someone who never attended school, power meters without metered PLN electricity)
  is an error: one of the two answers is false and neither can be used. An answer
  merely **missing** where the routing asks it, or filled where the routing skips
  it without contradiction, is a warning.
- Missing answers are flagged for COMPLETE interviews only (result, item 205 = 1):
  an INCOMPLETE interview is incomplete by definition.
- What a NIK says is a fact at its first issue (district, birth date, sex), so
  disagreements with today's master or with the form warn; only a NIK that cannot
  exist (format, province, date) is an error.
- Rules needing context switch themselves off without it: assignment rules while the
  enumeration frame is empty, the GPS regency rule for a regency without an extent
  (`schemas/data/regency_extents.csv`, every regency of the shipped master has one), the
  cross-family NIK rule without a NIK index.
- Ages by role and marital status follow BPS's concept where one exists (nobody under 10
  is ever married: the form asks item 410 of women 10-54 with 408 = 2-4) and the law where
  BPS has none (Law 16/2019: marriage from 19; Law 24/2013 art. 63: civil adulthood at 17
  or married). Child marriage is a fact BPS enumerates, so 10-18 and married warns; the
  head's minimum ages are the platform's choice, said so in each rule's reason.
- A rule that raises is a bug: its finding becomes `RULE_CRASHED` (error), the other
  rules still run and the worker keeps going.
- Not checked: S4's "employment status 418 = 1-3 implies item 420a = 1", because item
  420a is not in the schema.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rule_rows(rules: Iterable[Rule]) -> list[str]:
    rows = [
        "| code | severity | item | message (Indonesian) | message (English) | why |",
        "|---|---|---|---|---|---|",
    ]
    for rule in rules:
        cells = (
            f"`{rule.code}`",
            rule.severity.value,
            rule.item or "-",
            rule.message_id,
            rule.message_en,
            rule.rationale,
        )
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return rows


def _score_table(
    title: str, scores: Mapping[str, float], unit: str = "score", key: str = "answer"
) -> list[str]:
    rows = [f"**{title}**", "", f"| {key} | {unit} |", "|---|---|"]
    rows += [f"| `{answer}` | {value:g} |" for answer, value in scores.items()]
    return [*rows, ""]


def _enrichment_section() -> list[str]:
    lines = [
        "## Enrichment",
        "",
        "Definitions are in `processors/enrich.py`. Present members are those with item 404 =",
        "1 or 5; children are 0-14, the elderly 60+ (UU 13/1998), `disabled_count` uses the",
        "Washington Group cut-off (any item 428 answer CANNOT_DO_AT_ALL or",
        "A_LOT_OF_DIFFICULTY), and `dependency_ratio` = (0-14 + 65+) / 15-64 as BPS publishes",
        "it (null without anyone 15-64). `urban_rural` comes only from the master's village",
        "column and is null with the shipped Kemendagri master.",
        "",
        "### Housing score (0-100)",
        "",
        "Weighted mean of component scores (0-1). Water from a well or spring under 10 m",
        "from a waste pit scores half; sanitation = 50 % facility (309a) + 25 % toilet type",
        "(309b) + 25 % faeces disposal (310); floor area per person scores 1 from "
        f"{enrich.ADEQUATE_AREA_PER_PERSON:g} m², linearly less below.",
        "",
    ]
    lines += _score_table("Weights", enrich.HOUSING_WEIGHTS, "weight", "component")
    for title, scores in (
        ("Floor (303)", enrich.FLOOR),
        ("Wall (304)", enrich.WALL),
        ("Roof (305)", enrich.ROOF),
        ("Drinking water (306a)", enrich.WATER),
        ("Toilet facility (309a)", enrich.TOILET),
        ("Toilet type (309b)", enrich.TOILET_TYPE),
        ("Faeces disposal (310)", enrich.FAECES_DISPOSAL),
        ("Lighting (307a)", enrich.LIGHTING),
    ):
        lines += _score_table(title, scores)
    lines += [
        "### Asset score (0-100)",
        "",
        "Points of the assets owned plus up to "
        f"{enrich.LIVESTOCK_POINTS:g} for livestock ({enrich.FULL_LIVESTOCK_UNITS:g} tropical",
        "livestock units or more = full points), divided by the points of the items asked:",
        "items an older app did not ask (null) count neither way.",
        "",
    ]
    lines += _score_table("Asset points (502-503)", enrich.ASSET_POINTS, "points", "asset")
    lines += _score_table(
        "Livestock units (504)", enrich.LIVESTOCK_UNITS, "units per head", "animal"
    )
    return lines


def _ownership_section() -> list[str]:
    step = dedup.MAX_REVISION_STEP
    return [
        "## Ownership and revision numbers",
        "",
        "Checked by the deduplication stage before the rules (`processors/dedup.py`), on every",
        "arrival whose submission id is not already known (a resend of a known id is dropped",
        "as a duplicate, whoever sends it):",
        "",
        "- A household belongs to the **assignment it was first accepted under**: the SLS of",
        "  its first accepted revision (village code of the region master and SLS code, the",
        "  unit `assignments.csv` assigns) and the enumerator who sent it.",
        "- A later revision, newer or older, is accepted only from an enumerator who **holds**",
        "  that assignment; anything else is `HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT`. With a",
        "  frame and a village that resolved, the holders are the enumerators the frame",
        "  *currently* assigns that SLS: a reassignment is a frame change (SLS listed under B",
        "  instead of A, worker restarted), after which B may revise A's households there and A",
        "  may not, as OUTSIDE_ASSIGNMENT already says of A's revisions located there. Without",
        "  a frame, or when the village did not resolve (a BPS-coded village the shipped master",
        "  cannot verify), only the first enumerator may revise.",
        "- The owner is never rewritten by a revision, so nobody moves a household into their",
        "  own area by revising it. A team (the enumerators of one supervisor) holds nothing by",
        "  itself: list the SLS under each teammate allowed to work it (an SLS may be listed",
        "  under several enumerators).",
        f"- A revision more than **{step}** above the highest revision the household has",
        "  reached is `REVISION_JUMP`. Reached counts every revision that passed these checks,",
        "  accepted or rejected by a rule, so corrections failing in a row never exhaust the",
        f"  step; a household may start at any revision from 1 to {step} (revision 1 lost or",
        "  rejected); an older revision arriving late is dropped as stale, as before.",
        "- Both refusals leave the household's state untouched and are rejections like any",
        "  other: the original bytes are kept and can be replayed once the frame or app is fixed.",
        "- States written before ownership existed load with an unknown owner: the next",
        "  accepted revision's sender and SLS become the owner.",
        "",
    ]


def render_markdown() -> str:
    """The text of docs/rules.md."""
    lines = [INTRO]
    for title, rules in BLOCKS:
        lines += [f"## {title}", "", *_rule_rows(rules), ""]
    lines += _ownership_section()
    lines += _enrichment_section()
    return "\n".join(lines).rstrip("\n") + "\n"
