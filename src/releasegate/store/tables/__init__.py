"""Every table of releasegate, one module per area. Importing this package registers them all."""

from releasegate.store.tables import (  # noqa: F401
    access,
    approvals,
    audit,
    decisions,
    finetune,
    monitoring,
    stages,
)
