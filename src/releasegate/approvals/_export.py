"""`decision export`: a decision, its signatures and its signers' public keys, plus a small
script that verifies them with nothing but Python and `cryptography` (no store, no releasegate).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from releasegate.approvals._keys import Signer
from releasegate.approvals._registry import DecisionRecord

VERIFY_SCRIPT = "verify_decision.py"
EXPORT_FILES = ("decision.json", "signatures.json", "signers.json", VERIFY_SCRIPT)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def verify_script() -> bytes:
    """The source of `verify_decision.py` (standard library and `cryptography` only)."""
    return (Path(__file__).parent / "_verify_script.py").read_bytes()


def export_files(record: DecisionRecord, signers: Mapping[str, Signer]) -> dict[str, bytes]:
    """The files of an export of `record`, by name (`EXPORT_FILES`).

    Args:
        record: the stored decision with its signatures.
        signers: every registered key by key id; those that signed are exported (revoked
            ones included, marked, so an outsider sees why their approvals do not count).
    """
    used = sorted({s.statement.key_id for s in record.signatures})
    return {
        "decision.json": record.decision_json.encode(),
        "signatures.json": _json(
            {
                "decision_id": record.id,
                "signatures": [s.to_json() for s in record.signatures],
            }
        ),
        "signers.json": _json({"signers": [signers[k].to_json() for k in used if k in signers]}),
        VERIFY_SCRIPT: verify_script(),
    }


__all__ = ["EXPORT_FILES", "VERIFY_SCRIPT", "export_files", "verify_script"]
