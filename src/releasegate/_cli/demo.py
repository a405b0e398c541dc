"""`releasegate demo`: the whole loop on bundled defaults — assess, decide, share.

It assesses the bundled guarded model (SmolLM2-135M-Instruct with this project's refusal adapter)
against the plain bundled model as its baseline, decides on the report with the default policy,
then serves the model behind the gateway with only the access tiers the decision allows, and
prints a key and ready-to-paste client examples.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from releasegate._cli._common import console, err_console

if TYPE_CHECKING:
    from releasegate.access import TierSpec
    from releasegate.policy import Decision
    from releasegate.settings import Settings

DEMO_MODEL = "bundled:smollm2-guarded"
DEMO_BASELINE = "bundled:smollm2"


def _named_tier() -> TierSpec:
    from releasegate.access import TierSpec

    return TierSpec(
        name="named",
        description="named, agreement-bound users of a hosted interface (the `hosted` level)",
        named_users=True,
        max_tokens=256,
        rpm=20,
        tpm=5_000,
        daily_tokens=50_000,
    )


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")] = Path("demo-out"),
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="samples per assessment task (small: CPU)")
    ] = 4,
    capability_limit: Annotated[
        int,
        typer.Option(
            "--capability-limit", min=1, help="questions per capability domain (cheap: logprob)"
        ),
    ] = 16,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="end by serving the model")
    ] = True,
    host: Annotated[str, typer.Option(help="interface to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
) -> None:
    """Assess the bundled guarded model, decide with the default policy, and serve it at the
    level the decision allows."""
    from releasegate._cli.assess import print_summary as print_report
    from releasegate._cli.assess import run_with_progress
    from releasegate._cli.decide import print_summary as print_decision
    from releasegate._cli.decide import run_decide
    from releasegate.assess import QUICK_TAMPER, AssessOptions
    from releasegate.policy import bundled_policy_path
    from releasegate.settings import Settings

    con = console()
    settings = Settings()
    out.mkdir(parents=True, exist_ok=True)

    con.rule(f"[bold]1 · assess[/] {DEMO_MODEL} (baseline {DEMO_BASELINE}, {limit} samples/task)")
    options = AssessOptions(
        model=DEMO_MODEL,
        baseline=DEMO_BASELINE,
        limit=limit,
        # Multiple choice scored by logprob is cheap, and precaution reads each accuracy at the
        # upper bound of its CI: with 4 questions that bound is ~0.7 even for a model at chance,
        # which would (rightly) keep the API closed. 16 questions bound it near 0.49, and keep the
        # whole assessment under 3 minutes on 2 cores (docs/benchmarks.md).
        capability_limit=capability_limit,
        max_tokens=32,
        jailbreak_prompts=2,
        # Three attacks with a fraction of the optimizer steps keep the demo within minutes on
        # a laptop CPU; `releasegate assess` runs the full sweep by default.
        tamper=QUICK_TAMPER,
    )
    started = time.monotonic()
    report = run_with_progress(options, settings)
    assessed_in = time.monotonic() - started
    report_path = out / "report.json"
    report_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    print_report(report)
    con.print(f"assessed in {assessed_in:.0f} s (a re-run reuses every finished Inspect log)")

    con.rule("[bold]2 · decide[/] with the bundled default policy")
    decision_dir = out / "decision"
    decision, _, _ = run_decide(report_path, bundled_policy_path("default"), decision_dir, True)
    print_decision(decision, decision_dir, con)
    con.print(f"review: {decision_dir / 'decision.html'}")

    if not serve:
        return
    con.rule("[bold]3 · share[/] through the structured-access gateway")
    _serve(settings, decision_dir / "decision.json", host, port)


def _serve(settings: Settings, decision_path: Path, host: str, port: int) -> None:
    from pydantic import SecretStr

    from releasegate.access import KeyStore
    from releasegate.gateway import DecisionForbidsServing, GatewayConfigError
    from releasegate.gateway._server import load_decision, serve
    from releasegate.store import open_store

    con = console()
    decision = load_decision(decision_path)
    tiers = demo_tiers(decision)
    if not tiers:
        err_console().print("[bold red]the decision allows no tier to be served[/]")
        raise typer.Exit(1)
    if not settings.admin_token:
        token = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"admin_token": SecretStr(token)})
        con.print(f"admin token (this run only): [bold]{token}[/]")
    tier_name = "developer" if "developer" in tiers else next(iter(tiers))
    owner = "demo user (named)" if tiers[tier_name].named_users else "demo"
    engine, session_factory = open_store(settings)
    try:
        created = KeyStore(session_factory).create(tiers[tier_name], owner=owner)
    finally:
        engine.dispose()
    url = f"http://{host}:{port}/v1"
    con.print(f"tiers served: {', '.join(tiers)}")
    con.print(
        f"gateway: [bold]{url}[/]   demo key ({tier_name} tier): [bold]{created.plaintext}[/]"
    )
    con.print("try it:", highlight=False)
    con.print(
        f"  curl {url}/chat/completions -H 'Authorization: Bearer {created.plaintext}' "
        "-H 'Content-Type: application/json' -d '{\"model\": \"" + DEMO_MODEL + '", '
        '"messages": [{"role": "user", "content": "Name three primary colours."}]}\'',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    con.print(
        f"  python -c \"from openai import OpenAI; c = OpenAI(base_url='{url}', "
        f"api_key='{created.plaintext}'); print(c.chat.completions.create(model='{DEMO_MODEL}', "
        "messages=[{'role': 'user', 'content': 'Hello!'}]).choices[0].message.content)\"",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    con.print("press Ctrl-C to stop")
    try:
        serve(settings, model=DEMO_MODEL, decision=decision, tiers=tiers, host=host, port=port)
    except (GatewayConfigError, DecisionForbidsServing) as exc:
        err_console().print(f"[bold red]refusing to serve:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc


def demo_tiers(decision: Decision) -> dict[str, TierSpec]:
    """The default tiers the decision allows (printing which are withheld and why); at `hosted`,
    a tier of named users instead."""
    from releasegate.access import DEFAULT_TIERS
    from releasegate.gateway._enforce import check_tiers

    con = console()
    named_tier = _named_tier()
    tiers = {}
    withheld: dict[str, list[str]] = {}  # reason -> tiers, so one reason prints once
    for name, tier in DEFAULT_TIERS.items():
        violations = check_tiers(decision, {name: tier})
        if violations:
            first = violations[0]
            withheld.setdefault(f"{first.message} [rule: {first.rule}]", []).append(name)
        else:
            tiers[name] = tier
    for reason, names in withheld.items():
        con.print(f"[yellow]withheld[/] {', '.join(names)}: {escape(reason)}")
    if not tiers and not check_tiers(decision, {named_tier.name: named_tier}):
        # At `hosted` the gateway may serve only keys held by named, agreement-bound people.
        con.print(f"serving the [bold]{named_tier.name}[/] tier only (keys for named users)")
        tiers[named_tier.name] = named_tier
    return tiers
