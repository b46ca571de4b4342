#!/usr/bin/python3
"""check-layers.py - keep src/server layered and free of include cycles.

Reads every `#include "server/..."` in src/server (a foo.c and its foo.h
are one node) and fails when:
  - the include graph has a cycle (the cycle is printed);
  - a file includes a header of a layer above its own;
  - a file includes another layer's private header;
  - a file inside a layer names the server object (`cs_server`, outside
    comments and strings): each layer gets a context of its own, and only
    the top (server.c) sees the whole server.
Files directly in src/server (server.c, config.c) are the top.

Usage: check-layers.py [SRC_DIR]   (default: the src/ next to scripts/)
Exit status: 0 clean, 1 violations, 2 usage or an unknown folder.
"""
import os
import re
import sys

# Bottom to top. A layer may include its own headers and the public
# headers of the layers below it (docs/server.md, "Layers").
LAYERS = ["core", "transport", "auth", "audit", "files", "ingest", "care", "export", "training",
          "tus", "media", "api", "router", ""]
# Headers only their own layer may include.
PRIVATE = {"api/api_int.h", "tus/tus_headers.h", "tus/sha1.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"server/([^"]+)"', re.M)
WHOLE_SERVER = re.compile(r'\bcs_server\b')
COMMENTS_AND_STRINGS = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', re.S)


def layer_of(rel):
    d = os.path.dirname(rel)
    if d not in LAYERS:
        raise ValueError(f"{rel}: folder '{d}' is not a declared layer (edit LAYERS)")
    return d


def node_of(rel):
    return os.path.splitext(rel)[0]


def read_graph(server_dir):
    edges = {}   # node -> {node: (file, header)}
    problems = []
    for root, _, files in os.walk(server_dir):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, server_dir)
            src_layer = layer_of(rel)
            edges.setdefault(node_of(rel), {})
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            if src_layer and WHOLE_SERVER.search(COMMENTS_AND_STRINGS.sub(" ", text)):
                problems.append(f"{rel}: names cs_server, the whole server; layer "
                                f"'{src_layer}' gets a context of its own")
            for inc in INCLUDE.findall(text):
                dst_layer = layer_of(inc)
                if not os.path.exists(os.path.join(server_dir, inc)):
                    problems.append(f"{rel}: includes server/{inc}, which does not exist")
                    continue
                if LAYERS.index(dst_layer) > LAYERS.index(src_layer):
                    problems.append(f"{rel}: includes server/{inc} of layer "
                                    f"'{dst_layer or 'top'}', above its own layer "
                                    f"'{src_layer or 'top'}'")
                elif inc in PRIVATE and dst_layer != src_layer:
                    problems.append(f"{rel}: includes server/{inc}, private to layer "
                                    f"'{dst_layer}'")
                if node_of(inc) != node_of(rel):
                    edges[node_of(rel)].setdefault(node_of(inc), (rel, inc))
    return edges, problems


def find_cycle(edges):
    """A cycle as a list of nodes (first == last), or None."""
    colour = {n: 0 for n in edges}   # 0 new, 1 on the stack, 2 done
    stack = []

    def visit(n):
        colour[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, {})):
            if colour.get(m, 0) == 1:
                return stack[stack.index(m):] + [m]
            if colour.get(m, 0) == 0:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(edges):
        if colour[n] == 0:
            c = visit(n)
            if c:
                return c
    return None


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    src = argv[1] if len(argv) > 1 else os.path.join(here, "..", "src")
    server_dir = os.path.join(src, "server")
    if not os.path.isdir(server_dir):
        print(f"check-layers: no {server_dir}", file=sys.stderr)
        return 2
    try:
        edges, problems = read_graph(server_dir)
    except ValueError as e:
        print(f"check-layers: {e}", file=sys.stderr)
        return 2
    cycle = find_cycle(edges)
    if cycle:
        steps = [f"{a} -> {b} ({edges[a][b][0]} includes server/{edges[a][b][1]})"
                 for a, b in zip(cycle, cycle[1:])]
        problems.append("include cycle: " + " -> ".join(cycle) + "\n  " + "\n  ".join(steps))
    for p in problems:
        print(f"check-layers: {p}", file=sys.stderr)
    if problems:
        return 1
    n_edges = sum(len(v) for v in edges.values())
    print(f"check-layers: {len(edges)} modules, {n_edges} include edges, no cycle, "
          f"layers respected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
