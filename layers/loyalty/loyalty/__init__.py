"""Loyalty service domain layer: program rules, the points ledger and its persistence."""
