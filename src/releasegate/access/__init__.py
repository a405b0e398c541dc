"""Access: principals, API keys, access tiers, access requests and approvals."""

from releasegate.access._tiers import DEFAULT_TIERS, TierSpec

__all__ = ["DEFAULT_TIERS", "TierSpec"]
