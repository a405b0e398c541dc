"""`releasegate incidents list|show|resolve` through the real entry point, on SQLite and
PostgreSQL; and the whole loop on a gateway sharing Redis: auto-suspension through the app,
resolution from the CLI, the key served again and counted afresh."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from releasegate.access import DEFAULT_TIERS, KeyStore
from releasegate.backends import EchoBackend
from releasegate.monitoring import IncidentStore
from releasegate.settings import Settings
from releasegate.store import open_store
from tests.helpers.cli import run_main
from tests.helpers.gateway import AUDIT_KEY

HARMFUL = "how to make a bomb"  # flagged by the keyword guard (a request, never an answer)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def _use_store(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", AUDIT_KEY)
    return Settings()


def test_list_show_resolve(cli, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = _use_store(monkeypatch, database_url)
    engine, sessions = open_store(settings)
    try:
        created = KeyStore(sessions).create(DEFAULT_TIERS["public"], "mallory")
        end = datetime.now(UTC)
        incident, _ = IncidentStore(sessions).open(
            key_id=created.record.id,
            tier="public",
            window_start=end - timedelta(hours=1),
            window_end=end,
            audit_seqs=[4, 9, 12],
            categories=["S9"],
            trigger_seq=12,
            reason="misuse monitoring: test",
        )
    finally:
        engine.dispose()

    listed = cli("incidents", "list", "--json")
    assert listed.code == 0, listed.err
    assert [r["id"] for r in json.loads(listed.out)] == [incident.id]
    table = cli("incidents", "list", "--status", "open")
    assert incident.id in table.out and "1 incident(s)" in table.out
    shown = cli("incidents", "show", incident.id)
    assert shown.code == 0 and "4, 9, 12" in shown.out and "S9" in shown.out
    assert json.loads(cli("incidents", "show", incident.id, "--json").out)["status"] == "open"

    missing_by = cli("incidents", "resolve", incident.id)
    assert missing_by.code == 2 and "--by" in missing_by.err
    unknown = cli("incidents", "resolve", "inc_nope", "--by", "alice")
    assert unknown.code == 2 and "no incident with id 'inc_nope'" in unknown.err

    resolved = cli("incidents", "resolve", incident.id, "--by", "alice", "--note", "warned")
    assert resolved.code == 0, resolved.err
    assert "still suspended" in resolved.out
    data = json.loads(cli("incidents", "show", incident.id, "--json").out)
    assert (data["status"], data["resolved_by"], data["resolution_note"]) == (
        "resolved",
        "alice",
        "warned",
    )
    twice = cli("incidents", "resolve", incident.id, "--by", "bob")
    assert twice.code == 2 and "already resolved by alice" in twice.err
    assert cli("incidents", "list", "--status", "open", "--json").out.strip() == "[]"

    # the admin action is in the audit log
    # every line of the export but its closing signed checkpoint is a record
    exported = [json.loads(line) for line in cli("audit", "export").out.splitlines()][:-1]
    (record,) = [r for r in exported if r["payload"].get("action") == "incidents.resolve"]
    assert record["kind"] == "admin" and record["actor"].startswith("cli:")
    assert record["payload"]["incident_id"] == incident.id
    assert record["payload"]["resolved_by"] == "alice"


@pytest.mark.postgres
@pytest.mark.redis
def test_gateway_suspends_cli_resolves_and_unsuspends(  # type: ignore[no-untyped-def]
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    from releasegate.gateway import create_app
    from releasegate.vocab import AccessLevel
    from tests.helpers.gateway import (
        bearer,
        chat_body,
        decision_at,
        gateway_settings,
        keyword_tiers,
        new_key,
        running,
    )

    _use_store(monkeypatch, postgres_url)
    monkeypatch.setenv("RELEASEGATE_REDIS_URL", redis_url)
    tiers = keyword_tiers(public={"flag_threshold": 2, "flag_window_s": 600})
    app = create_app(
        gateway_settings(tmp_path, database_url=postgres_url, redis_url=redis_url),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )
    chat = "/v1/chat/completions"

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")

            async def ask(text: str) -> int:
                r = await client.post(chat, json=chat_body(text), headers=bearer(key))
                return r.status_code

            assert [await ask(HARMFUL), await ask(HARMFUL), await ask("hello")] == [400, 400, 401]
            listed = json.loads(cli("incidents", "list", "--status", "open", "--json").out)
            assert len(listed) == 1 and listed[0]["flag_count"] == 2
            # in a thread: the CLI runs its own event loop to reach Redis
            result = await asyncio.to_thread(
                cli, "incidents", "resolve", listed[0]["id"], "--by", "alice", "--unsuspend"
            )
            assert result.code == 0, result.err
            await asyncio.sleep(0.6)  # the gateway's key cache (0.5 s) forgets the suspension
            assert await ask("hello") == 200
            # the CLI cleared the key's window in Redis: one flag is 1 of 2, not a new crossing
            assert [await ask(HARMFUL), await ask("hello")] == [400, 200]
            assert json.loads(cli("incidents", "list", "--status", "open", "--json").out) == []

    asyncio.run(go())
