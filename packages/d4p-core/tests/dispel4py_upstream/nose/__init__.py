"""The part of nose (``nose.tools``) that dispel4py's tests use: nose itself
no longer imports on current Python versions."""
