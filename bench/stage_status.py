"""Benchmark `stage status` against a year of history: ≥ 1 M audit records.

One store per run (a SQLite file; PostgreSQL with --postgres URL), set up as a year of a real
release looks: a signed decision, a staged release moved 50 times (start, promotions,
rollbacks), 12 monthly reassessments recorded as gate evidence, 2,000 incidents over the
year (10 in the current stage), two promotion sign-offs. Then `StagedRelease.status()` (the
library call behind `releasegate stage status` and `GET /admin/stage`) is timed, and the CLI
itself in a child process, first with the audit log as the setup left it (a few hundred
records), then again after ≥ 1 M audit records were added.

The million records are inserted directly in bulk (sequential seqs, distinct hashes, a
request-sized payload, times spread over the year), not through the hash-chained writer: the
status reads no audit record, and writing a million chained records would take hours here;
what this measures is whether the status is independent of the log's size.

Usage: python bench/stage_status.py [--records 1000000] [--rounds 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import DEFAULT_TIERS, KeyStore
from releasegate.approvals import DecisionRegistry, SignerRegistry
from releasegate.audit import AuditLog
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.stages import StagedRelease, parse_plan, sign_stage
from releasegate.store import make_engine, make_session_factory, upgrade
from releasegate.store.tables.audit import AuditHeadRow, AuditRecordRow
from releasegate.store.tables.monitoring import IncidentRow

HMAC_KEY = b"bench-audit-key-0123456789abcdef"
ROLES = ("release_lead", "safety_lead", "security_lead")
PLAN = {
    "name": "bench",
    "stages": [
        {"name": "red_team", "tiers": ["auditor"]},
        {"name": "researchers", "tiers": ["auditor", "researcher"]},
        {
            "name": "developers",
            "tiers": ["auditor", "researcher", "developer"],
            "gate": {
                "min_days_in_previous": 14,
                "max_incidents": {"medium": 20, "high": 0},
                "evidence": {
                    "max_age_days": 30,
                    "indicators": [
                        {"metric": "refusal_rate", "at_least": 0.8},
                        {"metric": "jailbreak_asr", "at_most": 0.2},
                    ],
                },
                "signoffs": {"roles": list(ROLES), "required": 2},
            },
        },
    ],
}


def _setup(sessions: sessionmaker[Session], keys: Path) -> StagedRelease:
    audit = AuditLog(sessions, hmac_key=HMAC_KEY)
    report = load_report(example_report_path("low-risk")).model_copy(
        update={"created_at": datetime.now(UTC)}
    )
    decision = decide(report, load_policy(bundled_policy_path("default")))
    registry = DecisionRegistry(sessions, audit)
    record = registry.record(decision, actor="bench")
    signers = SignerRegistry(sessions, audit)
    people = {}
    for name, role in zip(("Alice", "Bob", "Carol"), ROLES, strict=True):
        signers.create(name, [role], keys / f"{name}.pem", actor="bench")
        from releasegate._util.ed25519 import load_private_key

        people[role] = (name, load_private_key(keys / f"{name}.pem"))
    for role in ROLES[:2]:
        name, key = people[role]
        registry.sign(record.id, "approve", role=role, by=name, key=key)
    release = StagedRelease(sessions, audit, record.id, DEFAULT_TIERS)
    release.start(parse_plan(PLAN, "bench"), actor="bench")
    for i in range(24):  # 49 transitions: a year of promotions and rollbacks
        release.promote("researchers", actor="bench")
        release.rollback("red_team", reason=f"review {i}", actor="bench")
    release.promote("researchers", actor="bench")
    base = load_report(example_report_path("low-risk"))
    for month in range(12):
        when = datetime.now(UTC) - timedelta(days=30 * (11 - month) + 1)
        notes = [
            *base.notes,
            "post_mitigation was measured through the deployment at https://gw/v1.",
        ]
        release.record_evidence(
            base.model_copy(update={"created_at": when, "notes": notes}), actor="bench"
        )
    cur = release.current()
    assert cur is not None
    signed = [
        sign_stage(
            people[role][1],
            decision_id=record.id,
            plan_sha256=cur.plan_sha256,
            from_stage="researchers",
            entry_seq=cur.entered.seq,
            to_stage="developers",
            role=role,
            signer=people[role][0],
        )
        for role in ROLES[:2]
    ]
    release.record_signoffs(signed, actor="bench", to="developers")
    _incidents(sessions, cur.entered.at)
    return release


def _incidents(sessions: sessionmaker[Session], entered: datetime) -> None:
    rng = random.Random(0)
    key = KeyStore(sessions).create(DEFAULT_TIERS["public"], owner="bench").record.id
    now = datetime.now(UTC)
    rows = []
    for i in range(2000):
        recent = i < 10
        at = (
            entered + timedelta(seconds=i + 1)
            if recent
            else now - timedelta(days=rng.uniform(1, 365))
        )
        if not recent and at >= entered:
            at = entered - timedelta(seconds=1 + i)
        rows.append(
            {
                "id": f"inc_{i:016x}",
                "key_id": key,
                "tier": "public",
                "window_start": at,
                "window_end": at,
                "flag_count": 5,
                "categories": ["S10"],
                "audit_seqs": [1],
                "trigger_seq": 10**12 + i,
                "status": "resolved",
                "created_at": at,
                "kind": "misuse",
                "severity": "medium",
            }
        )
    with sessions() as session, session.begin():
        session.execute(insert(IncidentRow), rows)


def _bulk_audit(engine: Engine, sessions: sessionmaker[Session], n: int) -> float:
    """Append `n` request-sized audit records in bulk; seconds taken."""
    started = time.perf_counter()
    with sessions() as session:
        first = int(session.scalar(select(func.max(AuditRecordRow.seq))) or 0) + 1
    payload = json.dumps(
        {
            "request_id": "req-0123456789",
            "route": "/v1/chat/completions",
            "status": 200,
            "tier": "developer",
            "tokens": 182,
            "latency_ms": 12.5,
            "key_id": "key_0123456789abcdef",
        }
    )
    year = datetime.now(UTC) - timedelta(days=365)
    chunk = 50_000
    for start in range(first, first + n, chunk):
        rows = []
        for seq in range(start, min(first + n, start + chunk)):
            digest = hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=32).hexdigest()
            rows.append(
                {
                    "seq": seq,
                    "time": (year + timedelta(seconds=(seq - first) * 31)).isoformat(),
                    "kind": "request",
                    "actor": "key_0123456789abcdef",
                    "payload": payload,
                    "prev_hash": "b" + digest[1:],
                    "hash": digest,
                    "hmac": digest,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(AuditRecordRow), rows)
    with engine.begin() as conn:
        last = first + n - 1
        conn.execute(
            AuditHeadRow.__table__.update().values(seq=last, hash="0" * 64)  # type: ignore[attr-defined]
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _time_status(release: StagedRelease, rounds: int) -> list[float]:
    out = []
    release.status()  # warm
    for _ in range(rounds):
        t = time.perf_counter()
        status = release.status()
        out.append(time.perf_counter() - t)
        assert status.next_stage == "developers" and len(status.items) == 5
    return out


def _time_startup(rounds: int) -> list[float]:
    """`releasegate --help`: the CLI's start-up alone (Python and the imports), the floor."""
    exe = Path(sys.executable).with_name("releasegate")
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        out.append(time.perf_counter() - t)
    return out


def _time_cli(url: str, data_dir: Path, rounds: int) -> list[float]:
    exe = Path(sys.executable).with_name("releasegate")
    env = dict(
        os.environ,
        RELEASEGATE_DATABASE_URL=url,
        RELEASEGATE_DATA_DIR=str(data_dir),
        RELEASEGATE_AUDIT_HMAC_KEY=HMAC_KEY.decode(),
    )
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        proc = subprocess.run(
            [str(exe), "stage", "status", "--json"], env=env, capture_output=True, check=False
        )
        out.append(time.perf_counter() - t)
        assert proc.returncode == 0, proc.stderr.decode()
    return out


def _ms(values: list[float]) -> str:
    values = sorted(values)
    return (
        f"median {statistics.median(values) * 1000:.1f} ms, "
        f"p90 {values[int(0.9 * (len(values) - 1))] * 1000:.1f} ms"
    )


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditRecordRow)) or 0)


def run(url: str, label: str, records: int, rounds: int, work: Path) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        release = _setup(sessions, work / f"keys-{label}")
        before = _count(sessions)
        lib0, cli0 = _time_status(release, rounds), _time_cli(url, work, 5)
        floor0 = _time_startup(5)
        took = _bulk_audit(engine, sessions, records)
        after = _count(sessions)
        lib1, cli1 = _time_status(release, rounds), _time_cli(url, work, 5)
        floor1 = _time_startup(5)
        print(f"\n{label}: bulk insert of {records:,} audit records took {took:.0f} s")
        print(
            f"  audit records {before:,}: status() {_ms(lib0)}; CLI {_ms(cli0)} "
            f"(start-up alone {_ms(floor0)})"
        )
        print(
            f"  audit records {after:,}: status() {_ms(lib1)}; CLI {_ms(cli1)} "
            f"(start-up alone {_ms(floor1)})"
        )
        ratio = statistics.median(lib1) / statistics.median(lib0)
        print(f"  status() with {after:,} / with {before:,} records: {ratio:.2f}x")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="an existing PostgreSQL database URL")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {datetime.now(UTC).isoformat(timespec='minutes')}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_sqlite:
            run(f"sqlite:///{work / 'bench.db'}", "SQLite", args.records, args.rounds, work)
        if args.postgres:
            run(args.postgres, "PostgreSQL", args.records, args.rounds, work)


if __name__ == "__main__":
    main()
