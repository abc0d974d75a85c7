"""This folder is test data (dispel4py's own tests and example workflows, run
by test_compat_upstream.py after porting), not tests to collect."""

collect_ignore_glob = ["*"]
