"""Conformance kit for d4p mappings (work in progress)."""
