"""The outside attacks on the gateway's authentication and input, each against a real gateway
process (uvicorn, uvloop, httptools): weak admin tokens, guessing the admin token, slow and
unauthenticated bodies, slow headers, NUL characters on PostgreSQL, terminal escapes in what the
CLI prints, and what error bodies disclose. docs/security.md lists them with their results."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from releasegate._util.tokens import generate_token, token_problem
from releasegate.audit import audit_log_from_settings
from releasegate.settings import Settings
from releasegate.store import open_store
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, bearer
from tests.helpers.gateway_proc import REPO, free_port, start_gateway

CLI = Path(sys.executable).with_name("releasegate")

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One gateway process on SQLite with short header and body timeouts."""
    data = tmp_path_factory.mktemp("security")
    env = {
        "RELEASEGATE_DATA_DIR": str(data),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_HEADER_TIMEOUT_S": "1",
        "RELEASEGATE_BODY_TIMEOUT_S": "1",
    }
    with start_gateway(env) as url:
        yield url, data


def _key(url: str, tier: str = "developer") -> str:
    r = httpx.post(url + "/admin/keys", json={"tier": tier, "owner": "sec"}, headers=ADMIN)
    r.raise_for_status()
    key: str = r.json()["key"]
    return key


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Read until the server closes the connection; (what it sent, seconds until it closed)."""
    started = time.monotonic()
    sock.settimeout(limit_s)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - started
        data += chunk


# -- the admin token ---------------------------------------------------------------------------


def test_generated_tokens_pass_and_weak_ones_are_named() -> None:
    for _ in range(2000):
        assert token_problem(generate_token()) is None
        assert token_problem(secrets.token_hex(32)) is None
    weak = [
        "x",
        "test-admin-token-0123456789",
        "a" * 80,
        "ab" * 40,
        "correcthorsebatterystaple" * 2,
        secrets.token_hex(16),  # 16 random bytes: half of what is asked
        "0123456789abcdef" * 4,
        secrets.token_urlsafe(32)[:30] + "\x1b[0m",
    ]
    for token in weak:
        problem = token_problem(token)
        assert problem is not None, token
        assert token not in problem  # the reason never repeats the token


def test_admin_token_command_prints_a_strong_token() -> None:
    out = subprocess.run([str(CLI), "admin-token"], capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    assert len(token) == 43 and token_problem(token) is None


@pytest.mark.parametrize("dev", [True, False])
def test_serve_refuses_a_weak_admin_token_even_with_dev(tmp_path: Path, dev: bool) -> None:
    env = {
        **os.environ,
        "RELEASEGATE_DATA_DIR": str(tmp_path),
        "RELEASEGATE_ADMIN_TOKEN": "x",
        "COLUMNS": "300",
    }
    args = [str(CLI), "serve", "--model", "echo:", "--port", str(free_port())]
    args += ["--dev"] if dev else ["--decision", "nothing"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert "weak_admin_token" in out.stderr and "releasegate admin-token" in out.stderr


def test_guessing_the_admin_token_is_throttled_and_audited(tmp_path: Path) -> None:
    data = tmp_path
    env = {
        "RELEASEGATE_DATA_DIR": str(data),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_ADMIN_FAILURES_PER_MINUTE": "3",
    }
    with start_gateway(env) as url:  # its own process: this test throttles 127.0.0.1
        wrong = bearer(generate_token())
        codes = [httpx.get(url + "/admin/keys", headers=wrong).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        # The address is now throttled: even the right token is not compared.
        r = httpx.get(url + "/admin/keys", headers=ADMIN)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "admin_auth_throttled"
        assert int(r.headers["Retry-After"]) >= 1
        # A missing header on an admin route is a failure too, and is throttled as well.
        assert httpx.get(url + "/admin/keys").status_code == 429
        # Key holders are not affected.
        assert httpx.get(url + "/v1/models").status_code == 401
    settings = Settings(data_dir=data, audit_hmac_key=SecretStr(AUDIT_KEY))
    engine, sessions = open_store(settings)
    try:
        log = audit_log_from_settings(settings, sessions)
        failures = [r for r in log.records() if r.kind == "auth_failure"]
        assert len(failures) == 3
        assert {f.actor for f in failures} == {"client:127.0.0.1"}
        assert {f.payload["reason"] for f in failures} == {"invalid_admin_token"}
        assert log.verify().ok
    finally:
        engine.dispose()


# -- bodies, headers and timeouts --------------------------------------------------------------


def test_unauthenticated_body_is_never_read(gateway: tuple[str, Path]) -> None:
    url, _ = gateway
    sock = _connect(url)
    try:
        # Announce a body of almost a megabyte and send none of it: the answer comes at once.
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n"
        )
        data, took = _read_all(sock, 5)
    finally:
        sock.close()
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 401")
    assert b"connection: close" in head
    assert took < 1.0


def test_slow_body_gets_408(gateway: tuple[str, Path]) -> None:
    url, _ = gateway
    key = _key(url)
    sock = _connect(url)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: 200\r\n\r\n".encode()
            + b'{"model": '
        )
        data, took = _read_all(sock, 5)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b'"request_timeout"' in data
    assert 0.9 < took < 3.0


def test_slow_headers_and_silent_connections_are_closed(gateway: tuple[str, Path]) -> None:
    url, _ = gateway
    slow = _connect(url)
    silent = _connect(url)
    try:
        slow.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # one header line now and then, never the end of the headers
            time.sleep(0.4)
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        data, took = _read_all(slow, 5)
        assert data == b""
        silent_data, _ = _read_all(silent, 5)
        assert silent_data == b""
    finally:
        slow.close()
        silent.close()
    assert took < 3.0


# -- error bodies ------------------------------------------------------------------------------


def test_error_bodies_carry_a_code_and_request_id(gateway: tuple[str, Path]) -> None:
    url, _ = gateway
    r = httpx.post(url + "/v1/chat/completions", json={}, headers=bearer("rg-unknown"))
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] and re.fullmatch(r"[0-9a-f]{32}", error["request_id"])
    assert r.headers["X-Request-ID"] == error["request_id"]
    ok = httpx.get(url + "/v1/models", headers=bearer(_key(url)))
    assert ok.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", ok.headers["X-Request-ID"])


def test_redis_and_upstream_addresses_stay_in_the_server_log(tmp_path: Path) -> None:
    # Nothing listens on either port: Redis and the upstream are down.
    redis_port, upstream_port = free_port(), free_port()
    env = {
        "RELEASEGATE_DATA_DIR": str(tmp_path),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "RELEASEGATE_UPSTREAM_MAX_RETRIES": "0",
    }
    with start_gateway(env, model=f"openai:http://127.0.0.1:{upstream_port}/v1#m") as url:
        r = httpx.get(url + "/admin/keys", headers=ADMIN)  # metered: the limiter is Redis
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "rate_limiter_unavailable"
    assert r.json()["error"]["request_id"] == r.headers["X-Request-ID"]
    for text in (str(redis_port), str(upstream_port), "127.0.0.1", "redis://"):
        assert text not in r.text
    # The upstream (Redis up, model down): 502, again without its address.
    del env["RELEASEGATE_REDIS_URL"]
    with start_gateway(env, model=f"openai:http://127.0.0.1:{upstream_port}/v1#m") as url:
        r = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers=bearer(_key(url)),
        )
    assert r.status_code == 502 and r.json()["error"]["code"] == "backend_error"
    for text in (str(upstream_port), "127.0.0.1", "http://"):
        assert text not in r.text


# -- stored text -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_nul_in_admin_fields_on_postgres_is_a_400_naming_the_field(postgres_url: str) -> None:
    env = {
        "RELEASEGATE_DATABASE_URL": postgres_url,
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
    }
    with start_gateway(env) as url:
        r = httpx.post(
            url + "/admin/keys", json={"tier": "developer", "owner": "a\u0000b"}, headers=ADMIN
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "owner"
        key = _key(url)
        r = httpx.post(
            url + "/admin/keys/x/suspend", json={"reason": "bad\u0000reason"}, headers=ADMIN
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "reason"
        r = httpx.get(url + "/admin/incidents?key_id=a%00b", headers=ADMIN)
        assert r.status_code == 400 and r.json()["error"]["param"] == "key_id"
        r = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x\u0000y"}]},
            headers=bearer(key),
        )
        assert r.status_code == 400 and "content" in r.json()["error"]["param"]
        listed = httpx.get(url + "/admin/keys", headers=ADMIN).json()["data"]
        assert [k["owner"] for k in listed] == ["sec"]  # nothing written by the refusals


def test_keys_list_escapes_terminal_control_sequences(tmp_path: Path) -> None:
    env = {**os.environ, "RELEASEGATE_DATA_DIR": str(tmp_path), "COLUMNS": "300"}
    owner = "\x1b[2J\x1b[31mown\red\x07"
    subprocess.run(
        [str(CLI), "keys", "create", "--tier", "public", "--owner", owner],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(CLI), "keys", "list"], env=env, check=True, capture_output=True, text=True
    )
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\r" not in out.stdout
    assert "\\x1b[2J\\x1b[31mown\\x0ded\\x07" in out.stdout


# -- kill -9 mid-stream --------------------------------------------------------------------------


def test_streams_cut_by_kill_9_get_an_aborted_record(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RELEASEGATE_DATA_DIR": str(tmp_path),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_HEARTBEAT_S": "0.2",
        "PYTHONPATH": str(REPO),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "tests.helpers.gateway_proc", "--port", str(port)]
    victim = subprocess.Popen(
        [*cmd, "--token-delay", "0.5"], cwd=REPO, env=env, stdout=subprocess.DEVNULL
    )
    try:
        _wait_answering(url, victim)
        key = _key(url)
        body = {
            "model": "echo",
            # about 60 s of tokens: still streaming when it is killed, however loaded the machine
            "messages": [{"role": "user", "content": "a long answer " * 40}],
            "stream": True,
        }
        with httpx.stream(
            "POST", url + "/v1/chat/completions", json=body, headers=bearer(key), timeout=10
        ) as response:
            assert response.status_code == 200
            request_id = response.headers["X-Request-ID"]
            # Keep the iterator: dropping it would close the response, and the gateway would
            # record the client's disconnect before the kill.
            chunks = response.iter_bytes()
            next(chunks)  # the first frame: the opening record is committed
            victim.kill()  # SIGKILL: no shutdown, no end record
            victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait(10)
    settings = Settings(data_dir=tmp_path, audit_hmac_key=SecretStr(AUDIT_KEY))
    engine, sessions = open_store(settings)
    try:
        log = audit_log_from_settings(settings, sessions)
        phases = [r.payload.get("phase") for r in log.records() if _is(r.payload, request_id)]
        assert phases == ["open"]  # the finding: started, never ended
        with start_gateway({**env, "RELEASEGATE_HEARTBEAT_S": "0.2"}):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                records = [r for r in log.records() if _is(r.payload, request_id)]
                if len(records) == 2:
                    break
                time.sleep(0.1)
        assert [r.payload.get("phase") for r in records] == ["open", "aborted"]
        aborted = records[1]
        assert aborted.payload["status"] == 499 and aborted.actor == records[0].actor
        time.sleep(0.5)  # a later sweep does not close it twice
        assert len([r for r in log.records() if _is(r.payload, request_id)]) == 2
        assert log.verify().ok
    finally:
        engine.dispose()


def _is(payload: dict[str, object], request_id: str) -> bool:
    return payload.get("request_id") == request_id


def _wait_answering(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the gateway exited"
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 401:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the gateway did not answer")
