"""`releasegate finetune list|show|cancel` through the real entry point, on SQLite and
PostgreSQL, against jobs created in the real store (queued jobs: no training needed)."""

from __future__ import annotations

import json

import pytest

from releasegate.audit import AuditLog
from releasegate.finetune import FileLimits, FineTuneStore, parse_training_file
from releasegate.settings import Settings
from releasegate.store import open_store
from tests.helpers.cli import run_main
from tests.helpers.finetune import BENIGN, jsonl
from tests.helpers.gateway import AUDIT_KEY

ESC = "\x1b[31mred\x1b[0m"  # an ANSI colour sequence a user put into a name


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def _jobs(
    monkeypatch: pytest.MonkeyPatch, database_url: str, owners: list[str], suffix: str | None
) -> list[str]:
    """Queued jobs, one per owner, each on its own uploaded file named with `ESC`."""
    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", AUDIT_KEY)
    engine, sessions = open_store(Settings())
    try:
        store = FineTuneStore(sessions, AuditLog(sessions, AUDIT_KEY.encode()))
        ids = []
        for owner in owners:
            parsed = parse_training_file(jsonl(BENIGN), FileLimits(10_000, 100))
            f = store.create_file(
                owner=owner,
                key_id="k1",
                filename=f"data-{ESC}.jsonl",
                purpose="fine-tune",
                parsed=parsed,
                content=jsonl(BENIGN).decode(),
                screening={"passed": True, "flagged": []},
            )
            job = store.create_job(
                owner=owner,
                key_id="k1",
                tier="researcher",
                model="smollm2-guarded",
                training_file=f.id,
                validation_file=None,
                suffix=suffix,
                seed=7,
                hyperparameters={"steps": 1},
                reserved_tokens=10,
            )
            ids.append(job.id)
        return ids
    finally:
        engine.dispose()


def test_list_show_cancel(cli, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:  # type: ignore[no-untyped-def]
    first, second = _jobs(monkeypatch, database_url, ["team-a", f"team-{ESC}"], suffix=ESC)

    listed = cli("finetune", "list", "--json")
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)
    assert [r["id"] for r in rows] == [second, first]  # newest first
    assert {r["status"] for r in rows} == {"queued"}
    assert rows[0]["owner"] == f"team-{ESC}" and rows[0]["suffix"] == ESC
    assert rows[0]["training_filename"] == f"data-{ESC}.jsonl" and rows[0]["seed"] == 7
    assert "\x1b" not in listed.out  # JSON escapes it as \u001b
    only_a = json.loads(cli("finetune", "list", "--owner", "team-a", "--json").out)
    assert [r["id"] for r in only_a] == [first]
    assert [r["id"] for r in json.loads(cli("finetune", "list", "--limit", "1", "--json").out)] == [
        second
    ]

    table = cli("finetune", "list")
    assert table.code == 0, table.err
    assert first in table.out and second in table.out and "2 job(s)" in table.out
    assert "\x1b" not in table.out and "\\x1b[31mred" in table.out  # shown, never interpreted

    shown = cli("finetune", "show", second)
    assert shown.code == 0, shown.err
    assert "\x1b" not in shown.out
    assert "suffix: \\x1b[31mred\\x1b[0m" in shown.out
    assert "data-\\x1b[31mred\\x1b[0m.jsonl" in shown.out and "status: queued" in shown.out
    assert "Files validated, moving job to queued state" in shown.out
    data = json.loads(cli("finetune", "show", second, "--json").out)
    assert data["id"] == second and data["status"] == "queued"
    assert data["events"][-1]["message"] == "Files validated, moving job to queued state"

    unknown = cli("finetune", "show", "ftjob-nope")
    assert unknown.code == 2 and "no fine-tuning job with id 'ftjob-nope'" in unknown.err
    unknown = cli("finetune", "cancel", f"ftjob-{ESC}")
    assert unknown.code == 2 and "\x1b" not in unknown.err
    assert "no fine-tuning job with id 'ftjob-\\x1b[31mred" in unknown.err

    cancelled = cli("finetune", "cancel", first)
    assert cancelled.code == 0, cancelled.err
    assert f"job {first}: cancelled" in cancelled.out
    assert json.loads(cli("finetune", "show", first, "--json").out)["status"] == "cancelled"
    again = cli("finetune", "cancel", first)
    assert again.code == 2 and f"job {first} already cancelled" in again.err
    assert json.loads(cli("finetune", "show", second, "--json").out)["status"] == "queued"

    # the cancel is in the audit log, by the CLI's actor
    exported = [json.loads(line) for line in cli("audit", "export").out.splitlines()][:-1]
    (record,) = [r for r in exported if r["payload"].get("action") == "job.cancel"]
    assert record["actor"].startswith("cli:") and record["payload"]["job_id"] == first
