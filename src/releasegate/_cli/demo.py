"""`releasegate demo`: the whole loop on bundled defaults — assess, decide, sign, share.

It assesses the bundled guarded model (SmolLM2-135M-Instruct with this project's refusal adapter)
against the plain bundled model as its baseline, decides on the report with the default policy,
has two demo signers (their keys under the output directory) sign the decision off, N of M,
then serves the model behind the gateway with only the access tiers the decision allows, and
prints a key and ready-to-paste client examples.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from releasegate._cli._common import console, err_console, safe
from releasegate._util.tokens import generate_token

if TYPE_CHECKING:
    from releasegate._cli._store import CliStore
    from releasegate.access import TierSpec
    from releasegate.policy import Decision
    from releasegate.settings import Settings

DEMO_MODEL = "bundled:smollm2-guarded"
DEMO_BASELINE = "bundled:smollm2"


def _named_tiers() -> dict[str, TierSpec]:
    """Tiers of named, agreement-bound people (allowed from `hosted` up): the internal red
    team and the wider group of named users the demo's stage plan opens one after the other."""
    from releasegate.access import TierSpec

    return {
        "red_team": TierSpec(
            name="red_team",
            description="the internal red team (named people, the staged release's first stage)",
            named_users=True,
            max_tokens=512,
            rpm=60,
            tpm=20_000,
            daily_tokens=200_000,
            flag_threshold=50,
        ),
        "named": TierSpec(
            name="named",
            description="named, agreement-bound users of a hosted interface (the `hosted` level)",
            named_users=True,
            max_tokens=256,
            rpm=20,
            tpm=5_000,
            daily_tokens=50_000,
        ),
    }


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
    from releasegate._cli.decide import print_summary as print_decision
    from releasegate._cli.decide import run_decide
    from releasegate.policy import bundled_policy_path
    from releasegate.settings import Settings

    con = console()
    settings = Settings()
    out.mkdir(parents=True, exist_ok=True)

    con.rule(f"[bold]1 · assess[/] {DEMO_MODEL} (baseline {DEMO_BASELINE}, {limit} samples/task)")
    report_path = out / "report.json"
    started = time.monotonic()
    _assess_in_child(report_path, limit, capability_limit)
    took = time.monotonic() - started
    con.print(f"assessed in {took:.0f} s (a re-run reuses every finished Inspect log)")

    con.rule("[bold]2 · decide[/] with the bundled default policy")
    decision_dir = out / "decision"
    decision, _, _ = run_decide(report_path, bundled_policy_path("default"), decision_dir, True)
    print_decision(decision, decision_dir, con)
    con.print(f"review: {decision_dir / 'decision.html'}")
    if decision.status == "halted":
        err_console().print("[bold red]the decision is halted: nothing is signed or served[/]")
        raise typer.Exit(1)

    con.rule("[bold]3 · sign[/] N of M, with demo signers' Ed25519 keys")
    _sign_off(decision, out / "keys")

    con.rule("[bold]4 · stage[/] the staged release (policies/stages/smollm2.yaml)")
    _stage(decision)

    if not serve:
        return
    con.rule("[bold]5 · share[/] through the structured-access gateway")
    _serve(settings, decision, host, port)


def _assess_in_child(report_path: Path, limit: int, capability_limit: int) -> None:
    """`releasegate assess` on the demo's model, in a child process of this interpreter.

    The assessment's memory (torch, two models, the tamper sweep's fine-tuning) goes back to the
    system when the child exits, so the gateway this process starts next holds only the model it
    serves, and this process never imports torch before it serves.
    """
    args = [
        "assess",
        DEMO_MODEL,
        "--out",
        str(report_path),
        "--baseline",
        DEMO_BASELINE,
        "--limit",
        str(limit),
        # Multiple choice scored by logprob is cheap, and precaution reads each accuracy at the
        # upper bound of its CI: with 4 questions that bound is ~0.7 even for a model at chance,
        # which would (rightly) keep the API closed. 16 questions bound it near 0.49.
        "--capability-limit",
        str(capability_limit),
        "--max-tokens",
        "32",
        "--jailbreak-prompts",
        "2",
        # Two attack strengths (two seeds each) with a fraction of the optimizer steps keep the
        # demo within minutes on a laptop CPU; `releasegate assess` runs the full sweep by default.
        "--tamper-sweep",
        "quick",
    ]
    done = subprocess.run([sys.executable, "-m", "releasegate._cli", *args], check=False)
    if done.returncode != 0:
        err_console().print(f"[bold red]the assessment failed (exit {done.returncode})[/]")
        raise typer.Exit(done.returncode)


def _demo_signer(store: CliStore, role: str, keys: Path) -> tuple[str, Path]:
    """The demo signer of `role` and their key file, made (or made again) as needed."""
    from releasegate._util import ed25519
    from releasegate.approvals import SignerError, SignerRegistry

    name = "Demo " + role.replace("_", " ").title()
    key_file = keys / f"{role}.pem"
    registry = SignerRegistry(store.sessions, store.audit)
    try:
        signer = registry.active(name)
    except SignerError:
        signer = None
    if signer is not None and key_file.is_file():
        held = ed25519.key_id(ed25519.public_key_b64(ed25519.load_private_key(key_file)))
        if held == signer.key_id:
            return name, key_file
    if signer is not None:  # the key file of an earlier run is gone: that key signs no more
        registry.revoke(name, actor=store.actor, reason="demo key file replaced")
    key_file.unlink(missing_ok=True)
    registry.create(name, [role], key_file, actor=store.actor)
    return name, key_file


def _sign_off(decision: Decision, keys: Path) -> None:
    from releasegate._cli._store import cli_store
    from releasegate._util import ed25519
    from releasegate.approvals import DecisionRegistry

    con = console()
    decision_id = decision.content_sha256[:16]
    signing = decision.signoff.roles[: decision.signoff.required]
    with cli_store() as store:
        registry = DecisionRegistry(store.sessions, store.audit)
        for role in signing:
            name, key_file = _demo_signer(store, role, keys)
            record = registry.get(decision_id)
            if record.status == "approved":
                break
            assert record.verification is not None
            if any(
                c.counted and c.signed.statement.role == role
                for c in record.verification.signatures
            ):
                continue
            key = ed25519.load_private_key(key_file)
            record = registry.sign(decision_id, "approve", role=role, by=name, key=key)
            con.print(f"{name} ({role}) signed with key {key_file}")
        record = registry.get(decision_id)
        from releasegate._cli.decision import rerender

        rerender(store, decision_id)
    roles = len(decision.signoff.roles)
    con.print(f"decision {decision_id}: [bold]{record.status}[/] ({record.required} of {roles})")


def _stage(decision: Decision) -> None:
    """Start the bundled plan's staged release (once), then show what the next gate needs."""
    from releasegate._cli._store import cli_store
    from releasegate._cli.stage import print_status
    from releasegate.stages import StagedRelease, bundled_plan_path, load_plan

    offered = demo_tiers(decision, quiet=True)
    decision_id = decision.content_sha256[:16]
    with cli_store() as store:
        release = StagedRelease(
            store.sessions, store.audit, decision_id, offered, trusted_keys=store.trusted_keys
        )
        if release.current() is None:
            plan = load_plan(bundled_plan_path("smollm2"), decision=decision, tiers=offered)
            moved = release.start(plan, actor=store.actor)
            store.announce()
            console().print(
                f"entered stage [bold]{moved.to_stage}[/] (audit record {moved.audit_seq})"
            )
            from releasegate._cli.decision import rerender

            rerender(store, decision_id)
        print_status(release.status())
    console().print("see it again with: releasegate stage status")


def _serve(settings: Settings, decision: Decision, host: str, port: int) -> None:
    from pydantic import SecretStr

    from releasegate._cli._store import cli_store
    from releasegate._cli.serve import _print_plan
    from releasegate.access import KeyStore
    from releasegate.backends import default_served_name
    from releasegate.gateway import DecisionForbidsServing, GatewayConfigError
    from releasegate.gateway._server import ServeRefused, plan_serve, serve
    from releasegate.store._types import utcnow

    con = console()
    offered = demo_tiers(decision)
    if not offered:
        err_console().print("[bold red]the decision allows no tier to be served[/]")
        raise typer.Exit(1)
    if not settings.admin_token:
        token = generate_token()
        settings = settings.model_copy(update={"admin_token": SecretStr(token)})
        con.print(f"admin token (this run only): [bold]{token}[/]")
    with cli_store() as store:
        try:
            plan = plan_serve(
                store.sessions,
                model=DEMO_MODEL,
                decision=decision.content_sha256[:16],
                policy_path=None,
                dev=False,
                now=utcnow(),
                tiers=offered,
            )
        except ServeRefused as exc:
            err_console().print(f"[bold red]refusing to serve ({exc.code}):[/] {safe(str(exc))}")
            raise typer.Exit(2) from exc
        _print_plan(plan)
        tiers = {n: plan.tiers[n] for n in plan.openness.open_tiers}
        tier_name = "developer" if "developer" in tiers else next(iter(tiers))
        owner = "demo user (named)" if tiers[tier_name].named_users else "demo"
        created = KeyStore(store.sessions).create(tiers[tier_name], owner=owner)
    served = settings.served_model_name or default_served_name(DEMO_MODEL)
    url = f"http://{host}:{port}/v1"
    con.print(
        f"gateway: [bold]{url}[/]   demo key ({tier_name} tier): [bold]{created.plaintext}[/]"
    )
    con.print("try it:", highlight=False)
    con.print(
        f"  curl {url}/chat/completions -H 'Authorization: Bearer {created.plaintext}' "
        "-H 'Content-Type: application/json' -d '{\"model\": \"" + served + '", '
        '"messages": [{"role": "user", "content": "Name three primary colours."}]}\'',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    con.print(
        f"  python -c \"from openai import OpenAI; c = OpenAI(base_url='{url}', "
        f"api_key='{created.plaintext}'); print(c.chat.completions.create(model='{served}', "
        "messages=[{'role': 'user', 'content': 'Hello!'}]).choices[0].message.content)\"",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    con.print("press Ctrl-C to stop")
    try:
        serve(settings, model=DEMO_MODEL, plan=plan, host=host, port=port)
    except (GatewayConfigError, DecisionForbidsServing) as exc:
        err_console().print(f"[bold red]refusing to serve:[/] {safe(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc


def demo_tiers(decision: Decision, *, quiet: bool = False) -> dict[str, TierSpec]:
    """The default tiers the decision allows (printing which are withheld and why), and the
    tiers of named users (`red_team`, `named`) that the demo's stage plan opens, whenever the
    decision allows at least `hosted`."""
    from releasegate.access import DEFAULT_TIERS
    from releasegate.gateway._enforce import check_tiers

    con = console()
    tiers: dict[str, TierSpec] = {}
    withheld: dict[str, list[str]] = {}  # reason -> tiers, so one reason prints once
    for name, tier in DEFAULT_TIERS.items():
        violations = check_tiers(decision, {name: tier})
        if violations:
            first = violations[0]
            withheld.setdefault(f"{first.message} [rule: {first.rule}]", []).append(name)
        else:
            tiers[name] = tier
    for reason, names in withheld.items():
        if not quiet:
            con.print(f"[yellow]withheld[/] {', '.join(names)}: {safe(reason)}")
    named = {n: t for n, t in _named_tiers().items() if not check_tiers(decision, {n: t})}
    if named and not tiers and not quiet:
        # At `hosted` the gateway may serve only keys held by named, agreement-bound people.
        con.print(f"serving the {', '.join(named)} tiers only (keys for named users)")
    tiers.update(named)
    return tiers
