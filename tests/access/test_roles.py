"""Who may do what: every staff route of the route table called with each role's token through
a real gateway process. The table below is the contract (docs/access.md shows it); a staff
route added to the route table without a row here fails `test_every_staff_route_has_a_row`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from releasegate.gateway import ROUTES, RouteRow
from tests.helpers.access import ADMIN, access_gateway, bearer, make_principal

ALL = {"admin", "reviewer", "release_lead", "safety_lead", "auditor"}
READ = ALL  # every staff role reads keys, incidents and applications

# route name -> the roles that may call it (`applicant` may call none)
WHO_MAY: dict[str, set[str]] = {
    "keys.create": {"admin"},
    "keys.list": READ,
    "keys.revoke": {"admin"},
    "keys.rotate": {"admin"},
    "keys.suspend": {"admin", "reviewer", "safety_lead"},
    "metrics": {"admin", "auditor", "release_lead", "safety_lead"},
    "incidents.list": READ,
    "incidents.show": READ,
    "incidents.resolve": {"admin", "safety_lead"},
    "applications.list": READ,
    "applications.show": READ,
    "applications.comment": ALL - {"auditor"},
    "applications.approve": ALL - {"auditor"},
    "applications.deny": ALL - {"auditor"},
    "terms.publish": {"admin", "release_lead"},
    "principals.list": {"admin", "auditor"},
    "principals.create": {"admin"},
    "principals.token": {"admin"},
    "principals.roles": {"admin"},
    "principals.tokens": {"admin"},
    "principals.revoke_token": {"admin"},
    "principals.suspend": {"admin", "reviewer", "safety_lead"},
    "principals.unsuspend": {"admin"},
    "stage.status": READ,
    "stage.promote": {"admin", "release_lead"},
    "stage.rollback": {"admin", "release_lead", "safety_lead"},
}
ROLES = sorted(ALL | {"applicant"})
STAFF_ROWS = [row for row in ROUTES if row.requires.kind == "staff"]


def test_every_staff_route_has_a_row() -> None:
    assert {row.name for row in STAFF_ROWS} == set(WHO_MAY)
    for row in STAFF_ROWS:
        assert row.requires.roles == WHO_MAY[row.name], row.name


def test_the_auditor_only_reads() -> None:
    for row in STAFF_ROWS:
        if "auditor" in row.requires.roles:
            assert row.method == "GET", row.name


def _body(row: RouteRow[Any]) -> dict[str, Any] | None:
    if row.request is None:
        return None
    examples = row.request.model_json_schema().get("examples") or [{}]
    body: dict[str, Any] = json.loads(json.dumps(examples[0]))
    if row.name == "principals.create":
        body["name"] = "made by " + str(id(body))
    return body


def _call(client: httpx.Client, row: RouteRow[Any], headers: dict[str, str]) -> httpx.Response:
    path = row.path
    for name in row.path_params:
        path = path.replace("{" + name + "}", "no-such-id")
    body = _body(row)
    if row.method == "GET":
        return client.get(path, params=body, headers=headers)
    return client.request(row.method, path, json=body, headers=headers)


def test_who_may_do_what(tmp_path: Any) -> None:
    url_db = f"sqlite:///{tmp_path / 'roles.db'}"
    with access_gateway(url_db) as url, httpx.Client(base_url=url, timeout=30) as client:
        tokens = {role: make_principal(client, f"the {role}", role) for role in ROLES}
        seen: dict[str, set[str]] = {}
        for row in STAFF_ROWS:
            assert _call(client, row, {}).status_code == 401, row.name
            assert _call(client, row, bearer("rgp-forged")).status_code == 401, row.name
            for role, token in tokens.items():
                r = _call(client, row, bearer(token))
                refused = r.status_code == 403 and r.json()["error"]["code"] == "role_required"
                assert r.status_code != 401, (row.name, role, r.text)
                if not refused:
                    seen.setdefault(row.name, set()).add(role)
            # The bootstrap admin token counts as the admin role.
            r = _call(client, row, ADMIN)
            assert not (r.status_code == 403 and r.json()["error"]["code"] == "role_required")
        assert {name: seen.get(name, set()) for name in WHO_MAY} == WHO_MAY


@pytest.mark.parametrize("role", ["reviewer", "auditor"])
def test_a_suspended_principal_is_refused(tmp_path: Any, role: str) -> None:
    url_db = f"sqlite:///{tmp_path / 'roles.db'}"
    with access_gateway(url_db) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = make_principal(client, "Sam", role)
        assert client.get("/admin/access/applications", headers=bearer(token)).status_code == 200
        r = client.post("/admin/principals/Sam/suspend", json={"reason": "left"}, headers=ADMIN)
        assert r.status_code == 200, r.text
        import time

        deadline = time.monotonic() + 5
        while client.get("/admin/access/applications", headers=bearer(token)).status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_revoked_token_is_refused_and_the_others_work(tmp_path: Any) -> None:
    url_db = f"sqlite:///{tmp_path / 'tokens.db'}"
    with access_gateway(url_db) as url, httpx.Client(base_url=url, timeout=30) as client:
        first = make_principal(client, "Tia", "auditor")
        r = client.post("/admin/principals/Tia/tokens", headers=ADMIN)
        second, second_id = r.json()["token"], r.json()["token_id"]
        tokens = client.get("/admin/principals/Tia/tokens", headers=ADMIN).json()["data"]
        assert [t["revoked_at"] for t in tokens] == [None, None]
        first_id = next(t["id"] for t in tokens if t["id"] != second_id)
        r = client.post(f"/admin/principals/Tia/tokens/{first_id}/revoke", headers=ADMIN)
        assert r.status_code == 200 and r.json()["revoked_at"], r.text
        r = client.post(f"/admin/principals/Rex/tokens/{second_id}/revoke", headers=ADMIN)
        assert r.status_code == 404  # a token is revoked through its own principal only
        import time

        deadline = time.monotonic() + 5
        while client.get("/admin/principals", headers=bearer(first)).status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.get("/admin/principals", headers=bearer(second)).status_code == 200
