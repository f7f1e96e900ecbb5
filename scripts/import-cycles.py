"""Fail if a crate's modules import each other in a cycle.

A module is a file; an import is a `crate::` or `super::` path outside tests and comments. A
module and its own submodules are one unit (a folder's mod.rs and its files may use each
other). Usage: scripts/import-cycles.py crates/*/src
"""
import os, re, sys


def cycles(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith('.rs') or f == 'tests.rs' or f in ('lib.rs', 'main.rs'):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), root)[:-3].split(os.sep)
            if rel[-1] == 'mod':
                rel = rel[:-1]
            mods['::'.join(rel)] = os.path.join(dirpath, f)
    def resolve(path):
        parts = path.split('::')
        for n in range(len(parts), 0, -1):
            if '::'.join(parts[:n]) in mods:
                return '::'.join(parts[:n])
    deps = {}
    for m, path in mods.items():
        text = open(path).read()
        i = text.find('#[cfg(test)]')
        if i >= 0:
            text = text[:i]
        text = '\n'.join(l for l in text.splitlines() if not l.strip().startswith('//'))
        parent = m.rsplit('::', 1)[0] if '::' in m else ''
        paths = re.findall(r'crate::((?:[a-z_]+::)*[a-z_]+)', text)
        paths += [f"{parent}::{p}".lstrip(':') for p in re.findall(r'super::((?:[a-z_]+::)*[a-z_]+)', text)]
        for prefix, group in re.findall(r'(crate|super)::\{([^}]*)\}', text):
            base = '' if prefix == 'crate' else parent
            for item in group.split(','):
                name = item.strip().split('::')[0]
                if re.fullmatch(r'[a-z_]+', name):
                    paths.append(f"{base}::{name}".lstrip(':'))
        for p in paths:
            t = resolve(p)
            if t and t != m and not (t.startswith(m + '::') or m.startswith(t + '::')):
                deps.setdefault(m, set()).add(t)
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in deps.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop(); on.discard(w); scc.append(w)
                if w == v: break
            if len(scc) > 1: sccs.append(sorted(scc))
    sys.setrecursionlimit(10000)
    for v in list(mods):
        if v not in index: visit(v)
    print(f"{root}: {len(mods)} modules, {sum(map(len, deps.values()))} imports between them; cycles: {sccs or 'none'}")
    return sccs


if __name__ == "__main__":
    found = [cycle for root in sys.argv[1:] for cycle in cycles(root)]
    sys.exit(1 if found else 0)
