"""Settings, read from the environment (prefix `RELEASEGATE_`) or passed in by code.

Built only at the edges (the CLI, `create_app`, Inspect's entry points), never at import time
and never inside library code, which receives what it needs as arguments; tests build isolated
instances.
Every setting has help text; docs/settings.md lists them all (a test checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of releasegate."""

    # populate_by_name: fields with an alias (upstream_api_key) are still set by name in code.
    model_config = SettingsConfigDict(
        env_prefix="RELEASEGATE_", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the SQLite database, cached model conversions and run logs.",
    )
    key_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of key material: the audit HMAC key file and the key that signs audit "
            "checkpoints, with the latest checkpoint's copy. Must lie outside the data "
            "directory (a copy of the data is then not a copy of the keys). Default: "
            "<data_dir>-keys beside the data directory. Created 0700, its files 0600."
        ),
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: a SQLite file (WAL) in the data directory. "
            "Use postgresql+psycopg://user@host/db for a fleet of gateway processes."
        ),
    )

    model_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of converted model weights (the bundled GGUF model is converted once to "
            "safetensors here). Default: models/ under the data directory."
        ),
    )
    device: str = Field(
        default="auto",
        description=(
            "Device for local models: 'auto' (cuda when available, else cpu), 'cpu' or 'cuda'."
        ),
    )
    upstream_api_key: SecretStr | None = Field(
        default=None,
        # OPENAI_API_KEY is honoured as users of OpenAI clients expect; ours wins when both are set.
        validation_alias=AliasChoices("RELEASEGATE_UPSTREAM_API_KEY", "OPENAI_API_KEY"),
        description=(
            "API key sent to openai:* upstream backends. Also read from OPENAI_API_KEY when "
            "RELEASEGATE_UPSTREAM_API_KEY is unset."
        ),
    )
    through_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Gateway key (rg-...) that `releasegate assess --through URL` sends to a releasegate "
            "gateway, to assess the deployed system with its safeguards."
        ),
    )
    upstream_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Timeout in seconds for reading a response from an openai:* upstream backend.",
    )
    upstream_connect_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Timeout in seconds for connecting to an openai:* upstream backend.",
    )
    upstream_max_connections: int = Field(
        default=32,
        ge=1,
        description=(
            "Requests in flight at once to an openai:* upstream backend (its connection pool); "
            "more wait for a free connection. `releasegate assess` runs this many samples "
            "concurrently against such a model (`--max-connections`)."
        ),
    )
    upstream_max_retries: int = Field(
        default=3,
        ge=0,
        description=(
            "Retries (exponential backoff, honouring Retry-After) after a connection error, a 5xx "
            "or a 429 from an openai:* upstream backend."
        ),
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bootstrap admin token for the admin API (Authorization: Bearer ...): at least 32 "
            "random bytes (`releasegate admin-token` prints one). It counts as the admin role and "
            "names nobody, so for everyday use give each person a principal token instead. "
            "`serve` refuses to start with neither this nor an admin principal, except with "
            "--dev, and with a weaker one, --dev included."
        ),
    )
    principal_token: SecretStr | None = Field(
        default=None,
        description=(
            "Your principal token (rgp-..., from `releasegate principals bootstrap` or an "
            "admin). The `access` and `principals` commands send it to the gateway; commands "
            "that change the store directly check its roles once any principal exists."
        ),
    )
    gateway_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Base URL of the releasegate gateway that the `access` and `principals` commands "
            "talk to."
        ),
    )
    audit_hmac_key: SecretStr | None = Field(
        default=None,
        description=(
            "Server key for the HMAC of every audit record. Default on SQLite: a random key "
            "created once in audit-hmac.key in the key directory. Required with PostgreSQL: "
            "set it identically on every gateway process and operator CLI that shares the log "
            "(the store records the key's id, and a process with another key refuses to start)."
        ),
    )
    audit_checkpoint_interval_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds between the gateway's signed audit checkpoints (record count and head "
            "hash, Ed25519); one is also written when the gateway stops and by every export."
        ),
    )
    heartbeat_s: float = Field(
        default=2.0,
        gt=0,
        description=(
            "Seconds between a gateway process's heartbeats in the store. A process not seen "
            "for 5 heartbeats is dead: any live process closes the streams it left open with an "
            "`aborted` audit record (and every process does so when it starts)."
        ),
    )
    audit_store_content: Literal["full", "hash"] = Field(
        default="hash",
        description=(
            "How the audit log keeps prompts and outputs: 'full' stores them, 'hash' stores only "
            "their SHA-256 (data minimisation; the chain still proves what was sent)."
        ),
    )

    guard_weights: Path | None = Field(
        default=None,
        description=(
            "Weight file (.npz from scripts/train_guard.py) of the embedding guard. Default: the "
            "file committed in the package."
        ),
    )
    guard_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Score at or above which the embedding guard flags a text. Default: the threshold "
            "tuned by cross-validation and stored in the weight file."
        ),
    )
    guard_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Timeout in seconds of a remote guard (Llama Guard, moderation API); past it the "
            "guard fails and the request is refused (fail closed)."
        ),
    )
    guard_llamaguard_url: str | None = Field(
        default=None,
        description=(
            "Base URL (ending in /v1) of an OpenAI-compatible server (vLLM, llama.cpp, Ollama) "
            "serving Llama Guard 3 or 4, for the 'llamaguard' guard."
        ),
    )
    guard_llamaguard_model: str = Field(
        default="meta-llama/Llama-Guard-3-1B",
        description="Model name of Llama Guard on that server.",
    )
    guard_llamaguard_api_key: SecretStr | None = Field(
        default=None, description="API key for the Llama Guard server, if it needs one."
    )
    guard_moderation_url: str = Field(
        default="https://api.openai.com/v1",
        description="Base URL of a hosted moderation API in OpenAI's /v1/moderations format.",
    )
    guard_moderation_model: str = Field(
        default="omni-moderation-latest",
        description="Model name sent to the moderation API.",
    )
    guard_moderation_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "API key of the moderation API, for the 'moderation' guard (which refuses to be "
            "built without one)."
        ),
    )
    guard_stream_window_chars: int = Field(
        default=400,
        ge=16,
        description=(
            "Output guarding while streaming: characters per scanned window. Text is released "
            "to the client only after a window containing it was scanned and passed."
        ),
    )
    guard_stream_overlap_chars: int = Field(
        default=100,
        ge=0,
        description=(
            "Characters each streamed window shares with the previous one, so a harmful phrase "
            "split across two windows is still seen whole."
        ),
    )

    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis URL (redis://host:6379/0) for rate limits and quotas shared by a fleet of "
            "gateway processes. Default: counters in the memory of one process."
        ),
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body the gateway accepts, in bytes; larger bodies get 413.",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds a client has to send a request body in full once authenticated; a slower "
            "one gets 408 and the connection is closed."
        ),
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds a client has to send a request's headers, from its first byte (or from the "
            "connection opening); a slower one is disconnected."
        ),
    )
    keep_alive_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds an idle keep-alive connection stays open between requests.",
    )
    admin_failures_per_minute: int = Field(
        default=10,
        ge=1,
        description=(
            "Failed admin authentications allowed per client address and minute; each one is "
            "audited, and past the limit the address gets 429 before its token is checked."
        ),
    )
    key_cache_ttl_s: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description=(
            "Seconds a gateway process reuses a key lookup. Below 1 s, so a key revoked through "
            "any process is refused by every process within one second."
        ),
    )
    served_model_name: str | None = Field(
        default=None,
        description=(
            "Model id the gateway serves under (the `model` clients send; `serve "
            "--served-model-name`). Default: a short name from the model spec, e.g. "
            "'smollm2-guarded' for bundled:smollm2-guarded, never the spec itself, so no "
            "upstream URL, host, port or path reaches a client."
        ),
    )
    trusted_signer_keys: str | None = Field(
        default=None,
        description=(
            "Signer public keys (base64, as `releasegate signers list --keys` prints them, "
            "separated by commas or spaces) that alone count toward a decision's sign-off. A "
            "trust anchor outside the database: with it, a signer row written into the store "
            "behind the CLI's back signs nothing. Default: every signer registered in the store."
        ),
    )
    decision_poll_s: float = Field(
        default=0.25,
        gt=0.0,
        lt=1.0,
        description=(
            "Seconds between a gateway's polls of the release state (the store's change "
            "counter; with Redis it also wakes at once on a change). Below 1 s, so a halt, a "
            "revoked signer or a fired trigger reaches every process within one second."
        ),
    )
    decision_max_staleness_s: float = Field(
        default=1.0,
        gt=0.0,
        description=(
            "Seconds a gateway may go without refreshing the release state; past it every keyed "
            "request is refused with 503 decision_state_unavailable (fail closed)."
        ),
    )

    research_max_layers: int = Field(
        default=8,
        ge=1,
        description=(
            "Research endpoints: most layers one hidden_states or logit_lens request may read; "
            "more is refused with 400."
        ),
    )
    research_max_tokens: int = Field(
        default=512,
        ge=1,
        description=(
            "Research endpoints: most input tokens one hidden_states or logit_lens request may "
            "read; more is refused with 400."
        ),
    )
    research_max_floats: int = Field(
        default=1_048_576,
        ge=1,
        description=(
            "Research endpoints: most floats one response may hold (layers x tokens x hidden "
            "dimensions, or x top_k for the logit lens); more is refused with 400. Each key's "
            "daily total is its tier's extraction_budget."
        ),
    )
    research_max_top_k: int = Field(
        default=20,
        ge=1,
        le=100,
        description="Research endpoints: most predictions per position the logit lens returns.",
    )
    finetune_dir: Path | None = Field(
        default=None,
        description="Where fine-tuning workers write adapters and gate logs, and where the "
        "gateway reads them (default: finetune/ under data_dir; a shared volume for a fleet).",
    )
    finetune_poll_s: float = Field(
        default=1.0, gt=0, description="Fine-tuning worker: seconds between looks at the queue."
    )
    finetune_stale_s: float = Field(
        default=60.0,
        gt=0,
        description="Fine-tuning worker: a running job whose worker has not beaten for this "
        "long lost its worker, and is queued again or failed.",
    )
    finetune_max_attempts: int = Field(
        default=2,
        ge=1,
        description="Fine-tuning worker: runs of a job before a lost worker fails it "
        "(error code worker_lost).",
    )
    finetune_lora_first_layer: int | None = Field(
        default=None,
        ge=0,
        description="Fine-tuning worker: adapt only decoder layers from this one up (None: all). "
        "Backpropagation stops below it, so each CPU step is cheaper.",
    )
    finetune_gate_samples: int = Field(
        default=16,
        ge=1,
        description="Post-tune safety gate: harmful requests of the refusal suite.",
    )
    finetune_gate_jailbreak_prompts: int = Field(
        default=2, ge=1, description="Post-tune safety gate: requests per jailbreak transform."
    )
    finetune_gate_max_tokens: int = Field(
        default=32, ge=1, description="Post-tune safety gate: tokens per answer."
    )
    finetune_gate_max_refusal_drop: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Post-tune safety gate: how far a tuned model's refusal rate may fall below "
        "its base model's.",
    )
    finetune_gate_max_jailbreak_rise: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Post-tune safety gate: how far a tuned model's jailbreak success rate may "
        "rise above its base model's.",
    )
    finetune_max_loaded_models: int = Field(
        default=2,
        ge=1,
        description="Gateway: fine-tuned models kept loaded at once (least recently used "
        "unloaded first).",
    )

    def resolved_model_cache_dir(self) -> Path:
        """The model cache directory in force: the configured one, or models/ under `data_dir`."""
        return self.model_cache_dir or (self.data_dir / "models")

    def resolved_key_dir(self) -> Path:
        """The key directory in force: the configured one, or <data_dir>-keys beside it."""
        if self.key_dir is not None:
            return self.key_dir
        data = self.data_dir.resolve()
        return data.with_name(data.name + "-keys")

    def resolved_finetune_dir(self) -> Path:
        """Where fine-tuning artifacts live: the configured directory, or finetune/ under
        `data_dir`."""
        return self.finetune_dir or (self.data_dir / "finetune")

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite under `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'releasegate.db').resolve()}"


__all__ = ["Settings"]
