"""Oversized and malformed applications and reviews, through a real gateway process on SQLite
and PostgreSQL: each is a 4xx naming the field paths at fault, and nothing is half-written (no
application, no review, no audit record of a change)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from releasegate.audit import AuditLog
from tests.helpers.access import AUDIT_KEY, access_gateway, bearer, make_principal

GOOD = {
    "tier": "developer",
    "name": "Ada",
    "email": "ada@lab.example",
    "answers": {
        "affiliation": "Lab",
        "intended_use": "evals",
        "country": "GB",
        "website": "https://lab.example",
        "sector": "academia",
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, "answers": dict(GOOD["answers"])}
    answers = changes.pop("answers", None)
    if answers is not None:
        body["answers"].update(answers)
    body.update(changes)
    return body


def _without(name: str) -> dict[str, Any]:
    body = _with()
    del body["answers"][name]
    return body


# (body, status, the field paths the error must name)
CASES: list[tuple[Any, int, set[str]]] = [
    (_with(teir="developer"), 400, {"teir"}),
    (_with(name="A\x00B"), 400, {"name"}),
    (_with(name="x" * 201), 400, {"name"}),
    (_with(email="not-an-address"), 400, {"email"}),
    (_with(answers={"intended_use": "x" * 4001}), 400, {"answers.intended_use"}),
    (_with(answers={"country": "Britain", "sector": "military"}), 400,
     {"answers.country", "answers.sector"}),
    (_with(answers={"country": 44}), 400, {"answers.country"}),
    (_with(answers={"website": "ftp://lab.example"}), 400, {"answers.website"}),
    (_with(answers={"favourite_colour": "blue"}), 400, {"answers.favourite_colour"}),
    (_without("affiliation"), 400, {"answers.affiliation"}),
    (_with(answers={f"q{i}": "x" for i in range(60)}), 400, {"answers"}),
    (_with(tier="gold"), 404, set()),
]  # fmt: skip


def _paths(response: httpx.Response) -> set[str]:
    error = response.json()["error"]
    found = {error["param"]} if error["param"] else set()
    found |= {e["param"] for e in error.get("errors", [])}
    return found


@pytest.mark.postgres
def test_bad_applications_are_refused_and_write_nothing(database_url: str) -> None:
    with access_gateway(database_url) as url, httpx.Client(base_url=url, timeout=30) as client:
        reviewer = make_principal(client, "Rev", "reviewer")
        # (a body that fails the request model is refused before the rate limit counts it)
        for body, status, paths in CASES:
            r = client.post("/v1/access/applications", json=body)
            assert r.status_code == status, (body, r.text)
            assert paths <= _paths(r), (paths, r.json())
        # Not JSON, not an object, too large for the gateway.
        r = client.post(
            "/v1/access/applications",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
        r = client.post("/v1/access/applications", json={"answers": {"x": "y" * 2_000_000}})
        assert r.status_code == 413, r.text

        # A malformed review touches nothing either.
        r = client.post(
            "/admin/access/applications/app_nope/deny",
            json={"category": "rude", "reason": "x"},
            headers=bearer(reviewer),
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "category"

        listed = client.get("/admin/access/applications", headers=bearer(reviewer))
        assert listed.json()["data"] == []

    engine = create_engine(database_url)
    try:
        log = AuditLog(sessionmaker(engine), AUDIT_KEY.encode())
        actions = [r.payload.get("action") for r in log.records()]
    finally:
        engine.dispose()
    assert not [a for a in actions if a in ("access.apply", "access.deny")]


def test_filing_is_rate_limited_per_address(tmp_path: Any) -> None:
    database = f"sqlite:///{tmp_path / 'rate.db'}"
    with access_gateway(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        codes = []
        for i in range(12):
            body = _with(email=f"user{i}@lab.example")
            codes.append(client.post("/v1/access/applications", json=body).status_code)
        assert codes[:10] == [200] * 10 and codes[10:] == [429, 429], codes
        # Reading is metered apart: filing's allowance does not block it.
        assert client.get("/v1/access/tiers").status_code == 200
