"""Run the releasegate gateway for the benchmark: the upstream as an `openai:` backend, keys,
rate limits and the audit log all on (SQLite, group commit), limits high enough that the load
is never refused, and the guards named by --guards (none by default, like the LiteLLM proxy).

    python bench/_gateway_server.py --upstream http://127.0.0.1:9100/v1 --port 9200 \\
        --data-dir /tmp/rg-bench [--guards keyword] [--without audit,limits,observers]

`--without` is a diagnostic for the benchmark only: it stubs steps out of the pipeline (the
audit write, the rate limiter, the observers) to measure what the rest costs. No setting of
releasegate itself can turn them off.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from releasegate.access import DEFAULT_TIERS
from releasegate.evidence import load_report
from releasegate.gateway import create_app
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.settings import Settings

# Strong (32 random bytes): the gateway refuses weaker admin tokens.
ADMIN_TOKEN = "DqErckxbiv1uVNXiVo4IBNpnbAPq01RHokhqEpzw2f0"


def stub_out(steps: set[str]) -> None:
    """Replace pipeline steps by no-ops (diagnostic rows of bench/gateway.py only)."""
    from releasegate.gateway import _pipeline, _ratelimit

    unknown = steps - {"audit", "limits", "observers"}
    if unknown:
        raise SystemExit(f"--without: unknown steps {sorted(unknown)}")

    async def no_audit(self: Any, call: Any) -> None:
        return None

    async def no_notify(self: Any, call: Any) -> None:
        return None

    async def admit_all(self: Any, key_id: str, quota: Any, reserve: int) -> Any:
        return _ratelimit.Reservation(key_id, quota, reserve)

    async def no_settle(self: Any, reservation: Any, used: int) -> None:
        return None

    if "audit" in steps:
        _pipeline.Pipeline._audit = no_audit  # type: ignore[method-assign]
    if "observers" in steps:
        _pipeline.Pipeline._notify = no_notify  # type: ignore[method-assign,assignment]
    if "limits" in steps:
        _ratelimit.RateLimiter.admit = admit_all  # type: ignore[method-assign]
        _ratelimit.RateLimiter.settle = no_settle  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--guards", default="", help="comma-separated guard names")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument(
        "--fixed-backend",
        action="store_true",
        help="answer in-process like the upstream (no upstream hop): the gateway's own cost",
    )
    parser.add_argument(
        "--without",
        default="",
        help="diagnostic: comma-separated steps to stub out (audit, limits, observers)",
    )
    args = parser.parse_args()
    stub_out({step for step in args.without.split(",") if step})

    import releasegate.evidence as evidence

    report = Path(evidence.__file__).parent / "_examples" / "low-risk.json"
    decision = decide(load_report(report), load_policy(bundled_policy_path("default")))
    guards = [g for g in args.guards.split(",") if g]
    tiers = {
        "bench": DEFAULT_TIERS["developer"].model_copy(
            update={
                "name": "bench",
                "guards": guards,
                "rpm": 10_000_000,
                "tpm": 1_000_000_000,
                "daily_tokens": 1_000_000_000_000,
            }
        )
    }
    settings = Settings(
        data_dir=Path(args.data_dir),
        admin_token=ADMIN_TOKEN,
        audit_hmac_key="bench-audit-key",
        redis_url=args.redis_url,
        served_model_name="bench-model",
        upstream_max_retries=0,
    )
    backend = None
    if args.fixed_backend:
        from _fixed_backend import FixedBackend

        backend = FixedBackend()
    app = create_app(
        settings,
        model=f"openai:{args.upstream}#bench-model",
        backend=backend,
        decision=decision,
        tiers=tiers,
    )
    try:
        from releasegate.gateway import run_app
    except ImportError:  # --compare-src code from before run_app: serve it the way it did
        import uvicorn

        uvicorn.run(
            app,
            port=args.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
        return
    run_app(app, settings, port=args.port)


if __name__ == "__main__":
    main()
