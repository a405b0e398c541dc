"""Access: principals, API keys, access tiers, access requests and approvals."""

from releasegate.access._keys import (
    CreatedKey,
    KeyLimits,
    KeyLimitsError,
    KeyNotFoundError,
    KeyRecord,
    KeyStore,
    check_limits,
    hash_key,
)
from releasegate.access._tiers import DEFAULT_TIERS, TierSpec

__all__ = [
    "DEFAULT_TIERS",
    "CreatedKey",
    "KeyLimits",
    "KeyLimitsError",
    "KeyNotFoundError",
    "KeyRecord",
    "KeyStore",
    "TierSpec",
    "check_limits",
    "hash_key",
]
