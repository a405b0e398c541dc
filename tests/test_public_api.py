"""The exported names are exactly the intended ones, each resolves, and `import releasegate`
stays light (no torch, transformers or FastAPI at import time).

`PACKAGES` pins every public package's `__all__`: adding or removing a public name is a
deliberate change made here too (and shows in docs/api.md, generated from the docstrings).
"""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import releasegate

INTENDED = {
    "__version__",
    "AccessLevel",
    "Benefit",
    "Component",
    "Condition",
    "Decision",
    "InputError",
    "ReleasePolicy",
    "RiskDomain",
    "RiskReport",
    "Settings",
    "Tier",
    "assess",
    "create_app",
    "decide",
    "load_backend",
    "load_policy",
    "load_report",
}


PACKAGES: dict[str, set[str]] = {
    "releasegate.access": {
        "CreatedKey",
        "DEFAULT_TIERS",
        "KeyLimits",
        "KeyLimitsError",
        "KeyNotFoundError",
        "KeyRecord",
        "KeyStore",
        "TierSpec",
        "check_limits",
        "hash_key",
    },
    "releasegate.approvals": {
        "ApprovalError",
        "DecisionNotFoundError",
        "DecisionRecord",
        "DecisionRegistry",
        "SignoffRecord",
        "record_decision",
    },
    "releasegate.assess": {
        "AssessOptions",
        "CAPABILITY_DOMAINS",
        "DEFAULT_TAMPER",
        "Dataset",
        "MCQRow",
        "Progress",
        "PromptRow",
        "QUICK_TAMPER",
        "SUITES",
        "SuiteFailed",
        "TAMPER_SWEEPS",
        "THROUGH_KEY_ENV",
        "TRANSFORMS",
        "TamperConfig",
        "TaskRun",
        "assess",
        "assess_async",
        "bootstrap_uplift_ci",
        "bundled_path",
        "file_sha256",
        "mean_stderr",
        "probe",
        "read_jsonl",
        "read_run",
        "run_key",
    },
    "releasegate.audit": {
        "AuditLog",
        "AuditRecord",
        "AuditSink",
        "AuditWriter",
        "GENESIS_HASH",
        "PendingEntry",
        "StoreContent",
        "VerifyResult",
        "audit_log_from_settings",
        "canonical_json",
        "content_sha256",
        "record_hash",
        "record_hmac",
        "resolve_audit_hmac_key",
        "verify_jsonl",
    },
    "releasegate.backends": {
        "BACKENDS",
        "BUNDLED_MODELS",
        "BackendError",
        "BackendFactory",
        "BundledModel",
        "ChatExample",
        "ChatMessage",
        "ENTRY_POINT_GROUP",
        "EchoBackend",
        "FinetuneStats",
        "Generation",
        "GenerationParams",
        "HFBackend",
        "HiddenStates",
        "LensToken",
        "LogitLens",
        "LoraRunConfig",
        "ModelBackend",
        "OpenAIBackend",
        "Pool",
        "REFUSAL_ADAPTER_DIR",
        "ResearchBackend",
        "StreamChunk",
        "TokenLogprob",
        "UpstreamHTTPError",
        "ensure_bundled_model",
        "gguf_path",
        "load_backend",
        "lora_finetune",
        "merge_lora",
        "model_cache_dir",
    },
    "releasegate.errors": {
        "InputError",
        "Problem",
        "ReleasegateError",
    },
    "releasegate.evidence": {
        "BaselineComparison",
        "ConfidenceInterval",
        "Coverage",
        "DatasetRef",
        "EXAMPLE_REPORTS",
        "EvidenceItem",
        "FailedEvaluation",
        "JudgeAgreement",
        "ModelIdentity",
        "RiskReport",
        "SCHEMA_VERSION",
        "SafeguardMetrics",
        "TamperAttack",
        "example_report_path",
        "load_report",
    },
    "releasegate.gateway": {
        "ApiError",
        "Call",
        "DecisionForbidsServing",
        "ErrorResponse",
        "Gateway",
        "GatewayConfigError",
        "NonEmptyText",
        "Observer",
        "Pipeline",
        "Principal",
        "Quota",
        "ROUTES",
        "RateLimit",
        "RateLimiter",
        "Requires",
        "Route",
        "RouteRow",
        "Streamed",
        "Text",
        "TierViolation",
        "Unary",
        "check_tiers",
        "create_app",
        "enforce_decision",
    },
    "releasegate.guards": {
        "DEFAULT_PHRASES",
        "ENTRY_POINT_GROUP",
        "EmbeddingGuard",
        "GUARDS",
        "Guard",
        "GuardChain",
        "GuardError",
        "GuardFactory",
        "GuardVerdict",
        "HAZARD_TITLES",
        "HazardCategory",
        "KeywordGuard",
        "LlamaGuard",
        "MiniLMEncoder",
        "ModerationGuard",
        "ScanStep",
        "StreamScanner",
        "UnknownGuardError",
        "available_guards",
        "build_guard",
        "build_guards",
        "combine",
        "input_texts",
        "llama_guard_prompt",
        "load_encoder",
        "normalize",
        "parse_llama_guard",
        "register_guard",
    },
    "releasegate.judge": {
        "Agreement",
        "ClassFigures",
        "ClassifierJudge",
        "ClassifierWeights",
        "DEFAULT_JUDGE",
        "Exchange",
        "FeatureSpec",
        "JUDGE_SPECS",
        "JudgeCheck",
        "JudgeError",
        "LABELS",
        "LLMJudge",
        "Label",
        "LabelledRow",
        "LabelledSet",
        "NOT_REFUSED",
        "PhraseJudge",
        "REDACTION_MARKER",
        "REFUSED",
        "RUBRIC",
        "RefusalJudge",
        "Verdict",
        "agreement_record",
        "bundled_labelled_path",
        "bundled_test_split",
        "check_judge",
        "check_judge_spec",
        "cohen_kappa",
        "lend_judge",
        "lent_judge",
        "load_judge",
        "measure",
        "parse_label",
        "read_bundled",
        "read_labelled",
        "refused_label",
        "validate",
    },
    "releasegate.monitoring": {
        "CountResult",
        "FlagCounter",
        "FlagEvent",
        "GatewayMetrics",
        "Incident",
        "IncidentNotFoundError",
        "IncidentStatus",
        "IncidentStore",
        "MemoryFlagCounter",
        "MisuseMonitor",
        "Monitor",
        "MonitorUnavailable",
        "RedisFlagCounter",
        "make_counter",
    },
    "releasegate.plugins": {
        "CODE",
        "Plugin",
        "PluginError",
        "Registry",
    },
    "releasegate.policy": {
        "AllWhen",
        "Alternative",
        "AnyWhen",
        "BUNDLED_POLICIES",
        "CATALOGUE",
        "Decision",
        "DecisionStatus",
        "Domain",
        "DomainAssessment",
        "Indicator",
        "IndicatorReading",
        "MetricSpec",
        "MetricWhen",
        "Precaution",
        "ReassessmentTrigger",
        "ReleasePolicy",
        "Rule",
        "RuleTrace",
        "SCHEMAS",
        "Signoff",
        "SignoffRequirement",
        "Then",
        "TierWhen",
        "Trigger",
        "bundled_policy_path",
        "canonical_json_bytes",
        "check_policy",
        "check_report",
        "choose_alternatives",
        "decide",
        "decision_content_sha256",
        "decision_json_bytes",
        "load_policy",
        "model_sha256",
        "parse_policy",
        "schema_text",
    },
    "releasegate.reports": {
        "ChecklistItem",
        "DECISION_FILES",
        "checklist",
        "domain_chart",
        "render_all",
        "render_decision_html",
        "render_decision_md",
        "render_eu_checklist",
        "render_model_card",
    },
    "releasegate.settings": {
        "Settings",
    },
    "releasegate.store": {
        "Base",
        "UTCDateTime",
        "current_revision",
        "downgrade",
        "ensure_schema",
        "head_revision",
        "make_engine",
        "make_session_factory",
        "open_store",
        "upgrade",
        "utcnow",
    },
    "releasegate.vocab": {
        "AccessLevel",
        "Benefit",
        "Component",
        "Condition",
        "RiskDomain",
        "Tier",
    },
}


def test_every_public_package_is_pinned() -> None:
    public = {
        f"releasegate.{m.name}"
        for m in pkgutil.iter_modules(releasegate.__path__)
        if not m.name.startswith("_") and m.name != "data"
    }
    assert public == set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_exports_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PACKAGES[package]
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_exported_names_are_the_intended_ones() -> None:
    assert set(releasegate.__all__) == INTENDED
    assert set(releasegate.__all__) - {"__version__"} == set(releasegate._EXPORTS)


def test_every_exported_name_resolves() -> None:
    for name in releasegate.__all__:
        assert getattr(releasegate, name) is not None, name


def test_import_is_light() -> None:
    code = (
        "import sys, releasegate; "
        "mods = ('torch', 'transformers', 'fastapi', 'inspect_ai'); "
        "heavy = [m for m in mods if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
