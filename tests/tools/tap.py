"""tests/tools/tap.py - the checks the tests in tests/tools print: one line
each, "ok - NAME" or "not ok - NAME: DETAIL" (TAP-like, so that a failing
run says which check failed and with what), and their count of failures
for the test's exit status. Imported by the tests beside it (their folder
is on sys.path when they run as scripts)."""

_failed = 0


def check(name, cond, detail=""):
    """Print the check's line and count it when `cond` is false."""
    global _failed
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else f": {detail}"))
    _failed += not cond


def failed():
    """How many checks have failed so far."""
    return _failed
