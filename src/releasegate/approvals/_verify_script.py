#!/usr/bin/env python3
"""Verify a releasegate decision export with nothing but Python and the `cryptography` package.

    python verify_decision.py DIR [--trust KEY_ID ...]

DIR holds what `releasegate decision export` wrote: `decision.json` (the decision's exact
bytes), `signatures.json` (each signed statement and its Ed25519 signature) and
`signers.json` (each signer's name, roles and public key). Exit status 0 means: every signature
is valid over exactly these decision bytes, and approvals from the decision's required number
of different people in different roles exist, none revoked, with no halt and no rejection.
Anything else exits 1 and says what fails.

`signers.json` comes with the export, so on its own it proves only that the holders of these
keys signed: compare the key ids printed (or pass them with --trust) against the signer keys the
publisher announces elsewhere (their website, a transparency report). With --trust, a signature
by any other key fails.

This file is copied, unchanged, into every export; it must never import releasegate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

STATEMENT_TYPE = "releasegate.signoff/v1"


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """The exact bytes a signer signed: sorted keys, no spaces, ASCII."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def person(name: str) -> str:
    """How names are compared: case and spacing do not make another person."""
    return " ".join(name.split()).casefold()


def signature_valid(public_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        raw_key = base64.b64decode(public_b64, validate=True)
        raw_sig = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, message)
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def key_id(public_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_b64, validate=True)).hexdigest()[:16]


def check(directory: Path, trusted: set[str]) -> tuple[list[str], list[str]]:
    """(failures, report lines) for the export in `directory`."""
    raw = (directory / "decision.json").read_bytes()
    decision = json.loads(raw)
    digest = hashlib.sha256(raw).hexdigest()
    decision_id = str(decision.get("content_sha256", ""))[:16]
    signoff = decision.get("signoff") or {}
    roles_allowed = set(signoff.get("roles") or [])
    required = int(signoff.get("required") or 1)
    signers = {
        s["key_id"]: s for s in json.loads((directory / "signers.json").read_text())["signers"]
    }
    signed = json.loads((directory / "signatures.json").read_text())["signatures"]
    failures: list[str] = []
    lines = [f"decision {decision_id}: sha256 of decision.json {digest}"]
    people: set[str] = set()
    roles: set[str] = set()
    closed_by: list[str] = []
    for item in sorted(signed, key=lambda x: str(x["statement"].get("signed_at", ""))):
        st, sig = item["statement"], str(item["signature"])
        who = f"{st.get('action')} by {st.get('signer')!r} as {st.get('role')!r}"
        signer = signers.get(st.get("key_id"))
        problem = None
        if st.get("type") != STATEMENT_TYPE:
            problem = "not a releasegate sign-off statement"
        elif st.get("decision_sha256") != digest or st.get("decision_id") != decision_id:
            problem = "signs other bytes, not this decision.json"
        elif signer is None:
            problem = f"key {st.get('key_id')} is not in signers.json"
        elif key_id(signer["public_key"]) != signer["key_id"]:
            problem = f"signers.json: key id {signer['key_id']} does not match its public key"
        elif trusted and signer["key_id"] not in trusted:
            problem = f"key {signer['key_id']} is not one of the keys you trust (--trust)"
        elif not signature_valid(signer["public_key"], statement_bytes(st), sig):
            problem = "the signature does not verify"
        elif person(signer["name"]) != person(str(st.get("signer"))):
            problem = f"key {signer['key_id']} belongs to {signer['name']!r}"
        elif st.get("role") not in signer["roles"] or st.get("role") not in roles_allowed:
            problem = f"{st.get('role')!r} is not a role of both the signer and the decision"
        if problem is not None or signer is None:
            failures.append(f"{who}: {problem}")
            continue
        if st["action"] in ("halt", "reject"):
            closed_by.append(
                f"{st['action']} by {st['signer']} at {st['signed_at']}: {st['reason']}"
            )
            lines.append(f"valid {who} (key {signer['key_id']})")
            continue
        if signer.get("revoked_at"):
            lines.append(f"not counted: {who}: key {signer['key_id']} was revoked")
        elif person(st["signer"]) in people or st["role"] in roles:
            lines.append(f"not counted: {who}: that person or role already counts")
        else:
            people.add(person(st["signer"]))
            roles.add(st["role"])
            lines.append(f"counted {who} at {st['signed_at']} (key {signer['key_id']})")
    if decision.get("status") == "halted":
        failures.append(f"halted by the policy when decided: {decision.get('halted_reason')}")
    failures += closed_by
    if len(people) < required:
        failures.append(f"{len(people)} of the {required} approvals the policy requires")
    return failures, lines


def main(argv: list[str]) -> int:
    args = list(argv)
    trusted: set[str] = set()
    while "--trust" in args:
        at = args.index("--trust")
        trusted.add(args[at + 1])
        del args[at : at + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    failures, lines = check(Path(args[0]), trusted)
    for line in lines:
        print(line)
    for failure in failures:
        print(f"FAIL: {failure}")
    print("in force: the signatures meet the N-of-M rule" if not failures else "NOT in force")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
