"""Benchmark a key-cache miss: `KeyStore.authenticate` for a key minted by hand (one indexed
lookup) and for a key issued through the access programme (the lookup, its principal, and its
tier's current terms and the holder's acceptance), on SQLite; optionally PostgreSQL.

Rounds alternate the two kinds so neighbours' load hits both alike; medians and p90 in µs.

Usage: python bench/access_auth.py [--rounds 2000] [--database-url URL of an EMPTY database it
may migrate and fill; never a shared one]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from releasegate.access import (
    DEFAULT_TIERS,
    AccessProgramme,
    ApplicationSpec,
    KeyStore,
    PrincipalStore,
)
from releasegate.audit import AuditLog
from releasegate.store import make_engine, make_session_factory, upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        tier = DEFAULT_TIERS["public"].model_copy(update={"application": ApplicationSpec()})
        audit = AuditLog(sessions, b"bench-audit-key-0123456789")
        programme = AccessProgramme(sessions, audit, {"public": tier})
        programme.publish_terms("public", "1", "https://example.org/terms/1", actor="bench")
        answers = {"affiliation": "Lab", "intended_use": "bench", "country": "GB"}
        filed = programme.submit("public", "B", "b@lab.example", answers, "1", is_open=True)
        app_id = filed.application.id
        row_reviewer, _ = PrincipalStore(sessions, audit).create(
            "R", ["reviewer"], actor="bench", token=False
        )
        programme.approve(app_id, row_reviewer, "ok", is_open=True)
        issued = programme.claim(app_id, filed.claim_token, is_open=True).key.plaintext
        keys = KeyStore(sessions)
        by_hand = keys.create(tier, "hand").plaintext
        assert keys.authenticate(issued) is not None and keys.authenticate(by_hand) is not None
        timings: dict[str, list[float]] = {"by hand": [], "through the programme": []}
        for _ in range(args.rounds):
            for name, key in (("by hand", by_hand), ("through the programme", issued)):
                started = time.perf_counter()
                keys.authenticate(key)
                timings[name].append((time.perf_counter() - started) * 1e6)
        engine.dispose()
    where = url.split(":")[0]
    print(f"{platform.node()} {platform.python_version()} {where}, {args.rounds} rounds")
    base = statistics.median(timings["by hand"])
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:>22}: median {median:7.0f} µs  p90 {p90:7.0f} µs  ({median / base:.2f}x)")


if __name__ == "__main__":
    main()
