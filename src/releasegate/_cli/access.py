"""`releasegate access ...`: apply for a key, follow and claim an application, renew it, read and
accept a tier's terms (applicants); list, comment, approve and deny applications, publish terms
(reviewers and leads). Every command is a call to the gateway's access routes, which check the
caller's role and audit the change."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, safe
from releasegate._cli._http import Gateway
from releasegate._cli._store import fail

app = typer.Typer(
    help="The access programme: apply for a key, review applications, tier terms.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="Review applications (principal token of a reviewing role).", no_args_is_help=True
)
terms_app = typer.Typer(help="Read, accept and publish a tier's terms.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(terms_app, name="terms")

Url = Annotated[
    str | None, typer.Option("--url", help="the gateway (default RELEASEGATE_GATEWAY_URL)")
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="principal token (default RELEASEGATE_PRINCIPAL_TOKEN)"),
]
Claim = Annotated[
    str, typer.Option("--claim-token", help="the rgc-... token `access apply` printed")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
AppId = Annotated[str, typer.Argument(help="application id (app_...)")]
Answers = Annotated[
    list[str] | None,
    typer.Option("--answer", "-a", help="FIELD=VALUE (repeat); true / false answer a yes/no field"),
]


def parse_answers(pairs: list[str] | None) -> dict[str, Any]:
    """`["country=GB", "agree=true"]` -> `{"country": "GB", "agree": True}`."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--answer {pair!r}: write FIELD=VALUE")
        out[name.strip()] = {"true": True, "false": False}.get(value, value)
    return out


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _print_status(data: dict[str, Any]) -> None:
    con = console()
    tier, status = safe(data["tier"]), data["status"]
    con.print(f"application [bold]{safe(data['id'])}[/] tier {tier}: {status}")
    if data.get("denial_category"):
        con.print(f"reason category: {safe(data['denial_category'])}")
    if data.get("claimable"):
        con.print("approved: claim the key with `releasegate access claim`")
    if data.get("key_expires_at"):
        con.print(f"key expires at {safe(data['key_expires_at'])}")


# -- applicants ----------------------------------------------------------------------------------


@app.command("tiers")
def tiers_command(url: Url = None, as_json: JsonOpt = False) -> None:
    """The tiers that take applications, their forms and terms, and whether they are open."""
    data = Gateway(url).call("GET", "/v1/access/tiers")["data"]
    if as_json:
        _dump(data)
        return
    for tier in data:
        state = "[green]open[/]" if tier["open"] else "[red]closed[/]"
        console().print(
            f"[bold]{safe(tier['name'])}[/] ({state}; {tier['reviewers']} reviewer(s), keys for "
            f"{tier['key_days']:g} days)"
        )
        for f in tier["fields"]:
            need = "required" if f["required"] else "optional"
            choices = f" [{', '.join(map(safe, f['choices']))}]" if f["choices"] else ""
            console().print(f"  {safe(f['name'])}: {f['type']}{choices}, {need}")
        if tier["terms"]:
            t = tier["terms"]
            console().print(f"  terms version {safe(t['version'])}: {safe(t['url'])}")


@app.command("apply")
def apply_command(
    tier: Annotated[str, typer.Option("--tier", "-t", help="the tier you apply for")],
    name: Annotated[str, typer.Option("--name", help="your name")],
    email: Annotated[str, typer.Option("--email", help="your e-mail address")],
    answer: Answers = None,
    accept_terms: Annotated[
        str | None,
        typer.Option("--accept-terms", help="the version of the tier's terms you accept"),
    ] = None,
    url: Url = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply for a key; prints the claim token once (keep it: it shows the status and claims
    the key)."""
    body = {
        "tier": tier,
        "name": name,
        "email": email,
        "answers": parse_answers(answer),
        "accept_terms_version": accept_terms,
    }
    data = Gateway(url).call("POST", "/v1/access/applications", json=body)
    if as_json:
        _dump(data)
        return
    _print_status(data)
    console().print("claim token (shown once, keep it):")
    console().print(data["claim_token"], highlight=False, soft_wrap=True)


@app.command("status")
def status_command(
    application: AppId, claim_token: Claim, url: Url = None, as_json: JsonOpt = False
) -> None:
    """Your application's status (and a denial's reason category)."""
    data = Gateway(url).call("GET", f"/v1/access/applications/{application}", bearer=claim_token)
    _dump(data) if as_json else _print_status(data)


@app.command("claim")
def claim_command(
    application: AppId, claim_token: Claim, url: Url = None, as_json: JsonOpt = False
) -> None:
    """Claim the key of an approved application; it is shown this once."""
    data = Gateway(url).call(
        "POST", f"/v1/access/applications/{application}/claim", bearer=claim_token
    )
    if as_json:
        _dump(data)
        return
    console().print(f"key {data['key_id']} tier {data['tier']}, expires {data['expires_at']}")
    console().print("API key (shown once, store it now):")
    console().print(data["key"], highlight=False, soft_wrap=True)


@app.command("renew")
def renew_command(
    application: AppId,
    claim_token: Claim,
    answer: Answers = None,
    accept_terms: Annotated[str | None, typer.Option("--accept-terms")] = None,
    url: Url = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply again, pre-filled from a claimed application (answers given replace the old)."""
    body = {"answers": parse_answers(answer), "accept_terms_version": accept_terms}
    data = Gateway(url).call(
        "POST", f"/v1/access/applications/{application}/renew", json=body, bearer=claim_token
    )
    if as_json:
        _dump(data)
        return
    _print_status(data)
    console().print("claim token of the renewal (shown once, keep it):")
    console().print(data["claim_token"], highlight=False, soft_wrap=True)


# -- terms ---------------------------------------------------------------------------------------


@terms_app.command("show")
def terms_show_command(tier: str, url: Url = None, as_json: JsonOpt = False) -> None:
    """The tier's terms in force."""
    data = Gateway(url).call("GET", f"/v1/access/terms/{tier}")
    if as_json:
        _dump(data)
        return
    tier, version = safe(data["tier"]), safe(data["version"])
    console().print(f"{tier} terms version {version}: {safe(data['url'])}")


@terms_app.command("accept")
def terms_accept_command(
    tier: str,
    version: Annotated[str, typer.Option("--version", help="the version you accept")],
    key: Annotated[str, typer.Option("--key", help="your API key (rg-...)")],
    url: Url = None,
) -> None:
    """Accept the tier's current terms for your key (it works again at once)."""
    data = Gateway(url).call(
        "POST", f"/v1/access/terms/{tier}/accept", json={"version": version}, bearer=key
    )
    console().print(f"accepted {safe(data['tier'])} terms version {safe(data['version'])}")


@terms_app.command("publish")
def terms_publish_command(
    tier: str,
    version: Annotated[str, typer.Option("--version", help="the new version")],
    terms_url: Annotated[str, typer.Option("--terms-url", help="where the terms are")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Publish a new version: the tier's keys are refused until their holders accept it
    (roles admin, release_lead)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call(
        "POST", f"/admin/access/terms/{tier}", json={"version": version, "url": terms_url}
    )
    console().print(f"published {safe(data['tier'])} terms version {safe(data['version'])}")


# -- reviewers -----------------------------------------------------------------------------------


@review_app.command("list")
def review_list_command(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or denied")
    ] = "pending",
    tier: Annotated[str | None, typer.Option("--tier")] = None,
    url: Url = None,
    token: Token = None,
    as_json: JsonOpt = False,
) -> None:
    """Applications (default: pending), newest first."""
    gw = Gateway(url, token)
    gw.need_token()
    params = {k: v for k, v in {"status": status, "tier": tier}.items() if v}
    data = gw.call("GET", "/admin/access/applications", params=params)["data"]
    if as_json:
        _dump(data)
        return
    table = Table(header_style="bold")
    for column in ("id", "tier", "status", "name", "email", "approvals", "filed"):
        table.add_column(column, overflow="fold")
    for a in data:
        table.add_row(
            safe(a["id"]),
            safe(a["tier"]),
            a["status"],
            safe(a["name"]),
            safe(a["email"]),
            f"{a['approvals']}/{a['approvals_needed']}",
            a["created_at"][:16].replace("T", " "),
        )
    console().print(table)
    console().print(f"{len(data)} application(s)")


def _print_application(a: dict[str, Any]) -> None:
    con = console()
    _print_status(a)
    con.print(f"applicant   {safe(a['name'])} <{safe(a['email'])}>")
    for name, value in a["answers"].items():
        con.print(f"  {safe(name)}: {safe(value)}")
    con.print(f"approvals   {a['approvals']}/{a['approvals_needed']}")
    for r in a["reviews"]:
        when, who = r["created_at"][:16], safe(r["reviewer"])
        con.print(f"  {when} {who} {r['verdict']}: {safe(r['text'])}")
    if a.get("denial_reason"):
        con.print(f"denied by {safe(a['decided_by'])}: {safe(a['denial_reason'])}")


@review_app.command("show")
def review_show_command(
    application: AppId, url: Url = None, token: Token = None, as_json: JsonOpt = False
) -> None:
    """An application with its answers and reviews."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("GET", f"/admin/access/applications/{application}")
    _dump(data) if as_json else _print_application(data)


@review_app.command("comment")
def review_comment_command(
    application: AppId, text: str, url: Url = None, token: Token = None
) -> None:
    """Comment on an application."""
    gw = Gateway(url, token)
    gw.need_token()
    gw.call("POST", f"/admin/access/applications/{application}/comment", json={"text": text})
    console().print(f"commented on {safe(application)}")


@review_app.command("approve")
def review_approve_command(
    application: AppId,
    reason: Annotated[str, typer.Option("--reason")] = "",
    url: Url = None,
    token: Token = None,
) -> None:
    """Approve (the tier's rule says how many approvals, of which role, are needed)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call(
        "POST", f"/admin/access/applications/{application}/approve", json={"reason": reason}
    )
    console().print(
        f"{safe(application)}: {data['status']} ({data['approvals']}/{data['approvals_needed']} "
        "approvals)"
    )


@review_app.command("deny")
def review_deny_command(
    application: AppId,
    category: Annotated[
        str,
        typer.Option(
            "--category",
            help="what the applicant is told: blocked_country, missing_information, ineligible, "
            "insufficient_justification, policy, other",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="kept with the reviewers")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Deny an application with a reason category (shown to the applicant) and a reason."""
    gw = Gateway(url, token)
    gw.need_token()
    body = {"category": category, "reason": reason}
    gw.call("POST", f"/admin/access/applications/{application}/deny", json=body)
    console().print(f"{safe(application)}: denied ({safe(category)})")
