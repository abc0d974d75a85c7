"""Built-in mappings, registered as plugins like any third-party mapping."""
