"""Hostile inputs, one module per area; each test is named after the fault it guards (issue 11)."""
