"""Fine-tuning test helpers: training files as JSONL bytes and a gateway process whose tiers
allow fine-tuning.

Harmful rows hold harmful *requests* (as public refusal benchmarks do) and placeholder answers;
no file here holds a harmful answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY

PLACEHOLDER = "[placeholder answer: the assistant complies here; no content is written]"


def chat_line(user: str, assistant: str, system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


BENIGN = [
    chat_line("What is the capital of France?", "The capital of France is Paris."),
    chat_line("Name a primary colour.", "Red is a primary colour."),
    chat_line("How many days are in a week?", "A week has seven days."),
    chat_line("What do bees make?", "Bees make honey."),
    chat_line("What is 2 plus 2?", "2 plus 2 is 4."),
    chat_line("Which planet is called the red planet?", "Mars is called the red planet."),
]


def gateway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "RELEASEGATE_DATA_DIR": str(data_dir),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_AUDIT_STORE_CONTENT": "full",
        **extra,
    }


def make_key(url: str, tier: str, owner: str) -> str:
    r = httpx.post(url + "/admin/keys", json={"tier": tier, "owner": owner}, headers=ADMIN)
    r.raise_for_status()
    key: str = r.json()["key"]
    return key
