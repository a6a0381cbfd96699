"""``regsosek simulate``: the field apps of a whole regency, on a compressed clock.

Every option shows its default and can be set by a ``REGSOSEK_SIMULATE_*``
variable; the Kafka, gateway and fieldwork settings come from the usual
``REGSOSEK_*`` ones. See docs/simulator.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from schemas.errors import BrokerError
from simulator.config import ErrorRates, ReviewConfig, SimulationConfig
from simulator.launch import Prepared, RunOptions, prepare, simulate
from simulator.runner import RunReport, default_truth_path
from streams.settings import Settings

ENV = "REGSOSEK_SIMULATE_"
FC = TypeVar("FC", bound=Callable[..., Any])
#: (option, rate field, what it injects); defaults are :class:`ErrorRates`'s.
RATES: tuple[tuple[str, str, str], ...] = (
    ("--error-rate-nik", "nik", "households with a 15-digit NIK (NIK_FORMAT)"),
    (
        "--error-rate-area",
        "area",
        "households in a wrong area (REGION_UNKNOWN, OUTSIDE_ASSIGNMENT)",
    ),
    ("--error-rate-age", "age", "households with an impossible age (AGE_RANGE)"),
    ("--error-rate-duplicate", "duplicate", "messages sent twice by an app retry"),
    ("--error-rate-revision", "revision", "clean households corrected by a revision 2"),
    ("--error-rate-corrupt", "corrupt", "corrupt messages per household (DECODE_*)"),
    ("--error-rate-old-schema", "old_schema", "households sent by an old app (schema v1)"),
)


def _option(name: str, **kwargs: Any) -> Callable[[FC], FC]:
    """A click option with its default shown and its REGSOSEK_SIMULATE_* variable."""
    envvar = ENV + name.split("/", maxsplit=1)[0].lstrip("-").replace("-", "_").upper()
    decorator: Callable[[FC], FC] = click.option(
        name, envvar=envvar, show_envvar=True, show_default=True, **kwargs
    )
    return decorator


def _rate_options(function: FC) -> FC:
    defaults = ErrorRates()
    for name, field, what in reversed(RATES):
        function = _option(
            name,
            type=click.FloatRange(0, 1),
            default=getattr(defaults, field),
            help=f"Share of {what}.",
        )(function)
    return function


@click.command("simulate")
@_option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    help="Fraction of the regency's households (Jember: ~769,000 at 1.0).",
)
@_option("--regency", default="35.09", help="Regency (Kemendagri code); 35.09 = Jember.")
@_option(
    "--districts",
    default="",
    help="Only these districts, comma-separated (e.g. 35.09.02,35.09.03); empty = all.",
)
@_option("--seed", type=int, default=7, help="Same seed, same frame, records and ids.")
@_option(
    "--population",
    type=int,
    default=None,
    help="People in the regency at scale 1 [default: Jember's SP2020 count; villages x 3,226].",
)
@_option(
    "--duration",
    type=click.FloatRange(min=0),
    default=300.0,
    help="Wall seconds for the whole fieldwork window; 0 = no pacing.",
)
@_option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Simulated seconds per wall second (overrides --duration).",
)
@_option(
    "--via",
    type=click.Choice(["sdk", "http"]),
    default="sdk",
    help="Publish through the Python SDK or the HTTP gateway.",
)
@_option(
    "--gateway-url",
    default=None,
    help="Gateway for --via http [default: http://REGSOSEK_GATEWAY_HOST:REGSOSEK_GATEWAY_PORT].",
)
@_option(
    "--offline-share",
    type=click.FloatRange(0, 1),
    default=0.3,
    help="Share of enumerators whose tablets sync in evening bursts.",
)
@_rate_options
@_option(
    "--reviews/--no-reviews",
    default=False,
    help="Supervisors review their teams' interviews; returned ones are fixed and resent.",
)
@_option(
    "--paradata/--no-paradata",
    default=False,
    help="The tablets send their events too: log-ins, interviews, syncs, position pings.",
)
@_option(
    "--review-return-rate",
    type=click.FloatRange(0, 1),
    default=ReviewConfig().return_rate,
    help="Share of reviews that return a complete interview to its enumerator.",
)
@_option(
    "--review-reject-rate",
    type=click.FloatRange(0, 1),
    default=ReviewConfig().reject_rate,
    help="Share of reviews that reject an interview for good.",
)
@_option(
    "--review-lag",
    type=click.FloatRange(min=0),
    default=5.0,
    help="Wall seconds a review or fix waits after what it follows was acknowledged.",
)
@_option(
    "--truth-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ground-truth JSON [default: <state>/simulation/ground-truth.json].",
)
@_option(
    "--validate/--no-validate",
    default=False,
    help="Let the SDK check every record field by field (slower).",
)
@_option("--frame-only", is_flag=True, default=False, help="Write the frame (and tokens) and exit.")
@_option("--progress/--no-progress", default=True, help="Show the progress bar.")
@click.pass_obj
def command(settings: Settings, /, **options: Any) -> None:
    """Simulate a month of fieldwork: thousands of enumerators' tablets publishing interviews.

    Writes the frame (enumerators, assignments, targets) to REGSOSEK_FRAME_DIR
    (default <state>/frame) with tokens.json for `regsosek gateway`, sends the
    households through the SDK or the gateway on a compressed clock, and ends
    with a ground-truth JSON that the pipeline's tables must equal.
    """
    console = Console(stderr=True)
    config = _config(settings, options)
    prepared = prepare(settings, config)
    _describe(console, prepared, settings)
    if options["frame_only"]:
        return
    run = RunOptions(
        via=options["via"],
        gateway_url=options["gateway_url"]
        or f"http://{settings.gateway_host}:{settings.gateway_port}",
        speed=options["speed"],
        duration_s=options["duration"],
        progress=options["progress"],
        validate=options["validate"],
        truth_path=options["truth_file"] or default_truth_path(settings.state_dir),
        review_lag_s=options["review_lag"],
    )
    report, path = simulate(settings, config, run, prepared=prepared, console=console)
    _summary(console, report, path)
    if report.error:
        raise BrokerError(report.error)
    if report.interrupted:
        sys.exit(130)


def _config(settings: Settings, options: dict[str, Any]) -> SimulationConfig:
    rates = ErrorRates(
        **{field: options[name.lstrip("-").replace("-", "_")] for name, field, _what in RATES}
    )
    districts = tuple(code.strip() for code in options["districts"].split(",") if code.strip())
    return SimulationConfig(
        regency=options["regency"],
        districts=districts,
        scale=options["scale"],
        seed=options["seed"],
        population=options["population"],
        offline_share=options["offline_share"],
        rates=rates,
        paradata=options["paradata"],
        reviews=ReviewConfig(
            enabled=options["reviews"],
            return_rate=options["review_return_rate"],
            reject_rate=options["review_reject_rate"],
        ),
        fieldwork_start=settings.fieldwork_start,
        fieldwork_end=settings.fieldwork_end,
    )


def _describe(console: Console, prepared: Prepared, settings: Settings) -> None:
    frame = prepared.frame
    console.print(
        f"[bold]{frame.regency_name}[/] ({frame.regency_code}): {len(frame.districts)} districts, "
        f"{len(frame.villages)} villages, {len(frame.units):,} SLS, "
        f"{frame.households:,} households, {len(frame.enumerators):,} enumerators, "
        f"{len(frame.supervisors):,} supervisors"
    )
    console.print(f"frame written to {prepared.frame_dir} (gateway tokens: {prepared.tokens_file})")
    console.print(
        f"fieldwork {settings.fieldwork_start:%d %b %Y} - {settings.fieldwork_end:%d %b %Y}, "
        f"topic prefix {settings.topic_prefix!r}"
    )


def _summary(console: Console, report: RunReport, path: Path) -> None:
    truth = report.truth
    table = Table(title="sent" if truth.complete else "sent (run stopped early)", show_header=False)
    rows = (
        ("households sent", f"{truth.households_sent:,} of {truth.households_planned:,}"),
        ("messages sent", f"{truth.messages_sent:,}"),
        ("duplicates / revisions", f"{truth.duplicates_sent:,} / {truth.revisions_sent:,}"),
        ("old-schema / corrupt", f"{truth.old_schema_sent:,} / {truth.corrupt_sent:,}"),
        (
            "expected accepted",
            f"{truth.accepted_households:,} households, {truth.accepted_members:,} members",
        ),
        (
            "expected rejections",
            ", ".join(f"{c} {n}" for c, n in truth.rejections_by_reason.items()) or "none",
        ),
        ("rate", f"{report.rate:,.0f} households/s over {report.elapsed_s:,.0f} s"),
        ("requests sent again", f"{sum(report.retries.values()):,}"),
        (
            "reviews",
            ", ".join(f"{d} {n:,}" for d, n in truth.reviews_by_decision.items()) or "none",
        ),
        (
            "paradata events",
            ", ".join(f"{t} {n:,}" for t, n in truth.events_by_type.items()) or "none",
        ),
    )
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"ground truth: {path}")
