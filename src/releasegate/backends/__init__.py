"""releasegate.backends: every way of running a model, behind one `ModelBackend` contract.

`load_backend(spec, settings)` builds one from `echo:` (deterministic, no model),
`bundled:NAME`, `hf:PATH`, `openai:BASE_URL#MODEL` or a plugin prefix: each prefix is a factory
in the `BACKENDS` registry (entry-point group `releasegate.backends`, where the built-ins are
declared too). Heavy libraries (torch, transformers,
peft) are imported only when a local model is loaded.
"""

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    GenerationParams,
    HiddenStates,
    LensToken,
    LogitLens,
    ModelBackend,
    Pool,
    ResearchBackend,
    StreamChunk,
    TokenLogprob,
)
from releasegate.backends._bundled import (
    BUNDLED_MODELS,
    REFUSAL_ADAPTER_DIR,
    BundledModel,
    ensure_bundled_model,
    gguf_path,
    model_cache_dir,
)
from releasegate.backends._echo import EchoBackend
from releasegate.backends._finetune import (
    ChatExample,
    FinetuneStats,
    LoraRunConfig,
    lora_finetune,
    merge_lora,
)
from releasegate.backends._hf import HFBackend
from releasegate.backends._loader import BACKENDS, ENTRY_POINT_GROUP, BackendFactory, load_backend
from releasegate.backends._openai import OpenAIBackend, UpstreamHTTPError

__all__ = [
    "BACKENDS",
    "BUNDLED_MODELS",
    "ENTRY_POINT_GROUP",
    "REFUSAL_ADAPTER_DIR",
    "BackendError",
    "BackendFactory",
    "BundledModel",
    "ChatExample",
    "ChatMessage",
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
]
