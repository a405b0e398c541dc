"""Every table of releasegate, one module per area. Importing this package registers them all."""
