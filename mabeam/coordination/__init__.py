"""Coordination: agent groups, consensus, and resource pools with allocation."""
