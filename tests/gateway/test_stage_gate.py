"""The gateway enforces the current stage through the real app: a tier the stage does not open
is refused 403 `stage_closed` naming the stage; a guard failure rate above the plan's trigger
rolls the release back by itself (recorded as the gateway's, naming the trigger)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from releasegate.backends import EchoBackend
from releasegate.gateway import create_app
from releasegate.stages import StagedRelease, parse_plan
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    bearer,
    chat_body,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)
from tests.helpers.signing import audit_log
from tests.helpers.stages import signed_decision
from tests.helpers.stores import migrated_store


def test_guard_failures_roll_the_stage_back(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, decision_poll_s=0.05)
    tiers = keyword_tiers(developer={"guards": ["keyword", "test-raising"]})
    with migrated_store(settings.resolved_database_url()) as (_engine, sessions):
        record, _ = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
        release = StagedRelease(sessions, audit_log(sessions), record.id, tiers)
        plan = {
            "name": "guards",
            "stages": [
                {"name": "one", "tiers": ["public"]},
                {"name": "two", "tiers": ["public", "developer"]},
            ],
            "rollback_triggers": [
                {
                    "id": "guard-failures",
                    "kind": "guard_failure_rate",
                    "above": 0.5,
                    "min_requests": 3,
                    "window_s": 60,
                    "to": "one",
                }
            ],
        }
        release.start(parse_plan(plan, "plan"), actor="t")
        app = create_app(settings, backend=EchoBackend(), decision_id=record.id, tiers=tiers)

        async def go() -> list[int]:
            async with running(app) as client:
                public = await new_key(client, "public")
                developer = await new_key(client, "developer")
                r = await client.post(
                    "/v1/chat/completions", json=chat_body(), headers=bearer(developer)
                )
                assert r.status_code == 403, r.text
                error = r.json()["error"]
                assert error["code"] == "stage_closed" and "stage 'one'" in error["message"]
                await asyncio.to_thread(release.promote, "two", actor="t")
                await asyncio.sleep(0.3)
                codes = []
                for _ in range(3):  # the developer tier's guard cannot run: 503 each time
                    r = await client.post(
                        "/v1/chat/completions", json=chat_body(), headers=bearer(developer)
                    )
                    codes.append(r.status_code)
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    r = await client.post(
                        "/v1/chat/completions", json=chat_body(), headers=bearer(developer)
                    )
                    if r.status_code == 403:
                        assert r.json()["error"]["code"] == "stage_closed"
                        assert "guard failure rate" in r.json()["error"]["message"]
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the stage was not rolled back")
                r = await client.post(
                    "/v1/chat/completions", json=chat_body(), headers=bearer(public)
                )
                assert r.status_code == 200
                return codes

        codes = asyncio.run(go())
        assert codes == [503, 503, 503]
        moves = release.timeline()
        assert [(t.kind, t.to_stage) for t in moves] == [
            ("start", "one"),
            ("promote", "two"),
            ("rollback", "one"),
        ]
        assert moves[-1].actor == "gateway" and moves[-1].trigger_id == "guard-failures"
