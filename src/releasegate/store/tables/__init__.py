"""Every table of releasegate, one module per area. Importing this package registers them all."""

from releasegate.store.tables import access, approvals, audit, decisions, monitoring  # noqa: F401
