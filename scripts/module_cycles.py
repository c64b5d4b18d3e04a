#!/usr/bin/env python3
"""Lists the import cycles between the modules (files) of a crate: `python3
scripts/module_cycles.py dataflow-core/src`. A module uses another when its file names
`crate::a::b` in code (a `use` or a path; comments and doc links do not count); child modules count as part of their file's folder
only through such names (a child that names its parent module imports it). Prints each strongly connected group of two or more files."""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "dataflow-core/src"
modules = {}
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib", "main"):
            rel = rel[:-1]
        modules["::".join(rel)] = path

def resolve(path):
    parts = path.split("::")
    while parts:
        candidate = "::".join(parts)
        if candidate in modules:
            return candidate
        parts = parts[:-1]
    return None

graph = {m: set() for m in modules}
for module, path in modules.items():
    text = open(path).read()
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", text, flags=re.S)
    # Comments (docs included) name modules without importing them.
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    # `use crate::a::{b, c::d}` and plain `crate::a::b` paths.
    for group in re.findall(r"crate::([A-Za-z_:]+)::\{([^}]*)\}", text):
        base, inner = group
        for item in inner.split(","):
            item = item.strip().split(" ")[0]
            target = resolve(f"{base}::{item}") if item and item != "self" else resolve(base)
            if target and target != module:
                graph[module].add(target)
    for found in re.findall(r"crate::([A-Za-z_][A-Za-z_0-9:]*)", text):
        target = resolve(found.rstrip(":"))
        if target and target != module:
            graph[module].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        strong(v)
cycles = [sorted(c) for c in sccs if len(c) > 1]
for c in cycles:
    print("cycle:", " ↔ ".join(c))
print(f"{len(modules)} modules, {len(cycles)} import cycle(s)")
sys.exit(1 if cycles else 0)
