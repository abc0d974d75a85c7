"""pytest plugin of the d4p conformance kit (work in progress)."""
