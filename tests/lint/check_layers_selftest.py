#!/usr/bin/python3
"""Prove scripts/check-layers.py fails where it must: it is run on tiny
fake src/server trees with a cycle, an upward include and another layer's
private header, and a layer that names the whole server, and must pass on
a clean one."""
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "check-layers.py")


def run(tree):
    with tempfile.TemporaryDirectory() as d:
        for rel, text in tree.items():
            p = os.path.join(d, "server", rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        r = subprocess.run([sys.executable, SCRIPT, d], capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr


def inc(*hs):
    return "".join(f'#include "server/{h}"\n' for h in hs)


failures = []


def expect(name, tree, rc, *needles):
    got, out = run(tree)
    missing = [n for n in needles if n not in out]
    if got != rc or missing:
        failures.append(f"{name}: exit {got} (want {rc}), missing {missing}\n{out}")
    else:
        print(f"ok - {name}")


clean = {
    "core/core.h": "",
    "transport/http.h": inc("core/core.h"),
    "transport/http.c": inc("transport/http.h"),
    "api/api.h": inc("transport/http.h"),
    "api/api_int.h": inc("api/api.h"),
    "api/studies.c": inc("api/api_int.h"),
    "server.c": inc("api/api.h"),
}
expect("clean tree passes", clean, 0, "no cycle")

cycle = dict(clean)
cycle["api/a.h"] = ""
cycle["api/a.c"] = inc("api/a.h", "api/b.h")
cycle["api/b.h"] = ""
cycle["api/b.c"] = inc("api/b.h", "api/a.h")
expect("a .c/.h pair including each other's pair is a cycle", cycle, 1,
       "include cycle: api/a -> api/b -> api/a")

upward = dict(clean)
upward["transport/http.c"] = inc("transport/http.h", "api/api.h")
expect("an include of a higher layer fails", upward, 1,
       "transport/http.c: includes server/api/api.h of layer 'api', above its own layer "
       "'transport'")

private = dict(clean)
private["server.c"] = inc("api/api_int.h")
expect("another layer's private header fails", private, 1, "private to layer 'api'")

unknown = dict(clean)
unknown["misc/x.c"] = ""
expect("an undeclared folder fails", unknown, 2, "not a declared layer")

whole = dict(clean)
whole["api/studies.c"] = inc("api/api_int.h") + "/* not cs_server here */\nvoid f(cs_server *s);\n"
expect("a layer that names the whole server fails", whole, 1,
       "api/studies.c: names cs_server, the whole server")

commented = dict(clean)
commented["api/studies.c"] = inc("api/api_int.h") + "/* no layer sees cs_server */\n" \
    "const char *m = \"cs_server\"; void g(cs_server_config *c);\n"
expect("cs_server in a comment or string, and cs_server_config, pass", commented, 0, "no cycle")

if subprocess.run([sys.executable, SCRIPT], capture_output=True).returncode != 0:
    failures.append("the real src/server fails check-layers.py")

for f in failures:
    print("FAIL - " + f)
sys.exit(1 if failures else 0)
