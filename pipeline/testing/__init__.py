"""Small real programs the toolkit's own tests run (e.g. the ping node)."""
