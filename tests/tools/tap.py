"""tests/tools/tap.py - the checks the tests in tests/tools print: one line
each, "ok - NAME" or "not ok - NAME: DETAIL" (TAP-like, so that a failing
run says which check failed and with what), and their count of failures
for the test's exit status; and the training tool they test, or the
skip when Debian's numpy, PIL or torch is missing. Imported by the tests
beside it (their folder is on sys.path when they run as scripts)."""
import os
import sys

_failed = 0


def check(name, cond, detail=""):
    """Print the check's line and count it when `cond` is false."""
    global _failed
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else f": {detail}"))
    _failed += not cond


def failed():
    """How many checks have failed so far."""
    return _failed


def train_polyp():
    """tools/train_polyp.py as a module; without numpy, PIL or torch (the
    tool imports them) the test is skipped: it prints why and exits 77."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
    try:
        import train_polyp as tp
    except ImportError as e:
        print(f"skipped: {e} (apt-get install python3-numpy python3-pil python3-torch)")
        sys.exit(77)
    return tp
