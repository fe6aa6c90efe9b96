#!/usr/bin/env python3
"""No module of shared/src imports one that imports it back, directly or around a loop (CI runs this).

Usage: python3 scripts/check-imports.py [SRC_DIR] [--all-edges] [--quiet] [--report]
  exits 1 when the top-level modules (crate::X) form a cycle, or when files do once the links between a
  module and its own parent or children (mod.rs facades, `super::Item`) are left out; --report prints every
  granularity (top level; store/customers/callbacks/providers submodules; files) whatever the outcome.

The module tree is read from `mod` declarations (from lib.rs), leaving out `#[cfg(test)]` items and files
named tests*.rs; every path into the crate is collected from each file (`use` trees with nested groups, `self`,
globs and re-exports; inline `crate::`, `super::`, `self::` paths; paths starting with a child module's name)
and resolved to the longest existing module. Comments and strings are ignored. Calls of methods defined in
another module (`id.spec()`) name no path and are not seen.
"""
import os
import re
import sys
from collections import defaultdict


ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]
QUIET = '--quiet' in sys.argv
REPORT = '--report' in sys.argv
NO_NESTING = False
SRC = os.path.abspath(ARGS[0] if ARGS else os.path.join(os.path.dirname(__file__), '..', 'shared', 'src'))
ALL_EDGES = '--all-edges' in sys.argv


# ----------------------------------------------------------------------------- lexing
def strip(text):
    """Blank comments, strings and char literals (keep newlines so offsets/lines survive)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != '\n':
                out[k] = ' '

    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith('/*', i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith('/*', j):
                    depth += 1; j += 2
                elif text.startswith('*/', j):
                    depth -= 1; j += 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (c in 'rb') and re.match(r'(?:br|r)#*"', text[i:i + 40]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            m = re.match(r'(?:br|r)(#*)"', text[i:])
            hashes = m.group(1)
            end = text.find('"' + hashes, i + m.end())
            end = n if end < 0 else end + 1 + len(hashes)
            blank(i, end)
            i = end
        elif c == '"' or (c == 'b' and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_'))):
            j = i + (2 if c == 'b' else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # char literal or lifetime
            if i + 1 < n and text[i + 1] == '\\':
                j = text.find("'", i + 2)
                if text[i + 2:i + 3] == "'":  # '\''
                    j = text.find("'", i + 3)
                blank(i, j + 1)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return ''.join(out)


TEST_CFG = re.compile(r'#\[\s*cfg\s*\(\s*(?:test\s*|all\s*\([^\]]*\btest\b[^\]]*\))\)\s*\]')


def item_end(s, i):
    """End offset of the item starting at i (after its attributes): first ';' at depth 0 or matching '}'."""
    depth = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c in '([':
            depth += 1
        elif c in ')]':
            depth -= 1
        elif c == ';' and depth == 0:
            return i + 1
        elif c == '{' and depth == 0:
            d = 1
            i += 1
            while i < n and d:
                if s[i] == '{':
                    d += 1
                elif s[i] == '}':
                    d -= 1
                i += 1
            return i
        i += 1
    return n


def drop_test_items(s):
    """Blank every item carrying #[cfg(test)] (or cfg(all(test, ..)))."""
    out = list(s)
    for m in TEST_CFG.finditer(s):
        i = m.end()
        # skip further attributes
        while True:
            mm = re.match(r'\s*#\[', s[i:])
            if not mm:
                break
            j = i + mm.end()
            d = 1
            while j < len(s) and d:
                d += {'[': 1, ']': -1}.get(s[j], 0)
                j += 1
            i = j
        e = item_end(s, i)
        for k in range(m.start(), e):
            if out[k] != '\n':
                out[k] = ' '
    return ''.join(out)


def line_of(s, pos, _cache={}):
    key = id(s)
    if key not in _cache:
        starts = [0] + [k + 1 for k, ch in enumerate(s) if ch == '\n']
        _cache[key] = (s, starts)
    import bisect
    return bisect.bisect_right(_cache[key][1], pos)


# ----------------------------------------------------------------------------- module tree
modules = {}        # tuple path -> file (relative)
file_mod = {}       # file -> tuple path of the file's module
clean = {}          # file -> cleaned text
inline = {}         # file -> list of (start, end, name) inline mods
is_test_file = lambda f: os.path.basename(f).startswith('tests')

MOD_RE = re.compile(r'(?m)^[ \t]*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*([;{])')


def load(rel, modpath):
    path = os.path.join(SRC, rel)
    raw = open(path, encoding='utf-8').read()
    s = drop_test_items(strip(raw))
    clean[rel] = s
    file_mod[rel] = modpath
    modules[modpath] = rel
    inline[rel] = []
    base = os.path.dirname(rel)
    stem = os.path.splitext(os.path.basename(rel))[0]
    moddir = base if stem in ('mod', 'lib') else os.path.join(base, stem)
    for m in MOD_RE.finditer(s):
        name, kind = m.group(1), m.group(2)
        # inline module nesting (only one level deep in this crate; handle generally anyway)
        outer = [im for im in inline[rel] if im[0] < m.start() < im[1]]
        prefix = modpath + tuple(im[2] for im in outer)
        if kind == '{':
            end = item_end(s, m.start())
            inline[rel].append((m.start(), end, name))
            modules[prefix + (name,)] = rel
            continue
        if outer:
            continue  # file mods inside inline mods: not present here
        cands = [os.path.join(moddir, name + '.rs'), os.path.join(moddir, name, 'mod.rs')]
        # #[path = "..."] directly above
        pm = re.search(r'#\[\s*path\s*=\s*"([^"]+)"\s*\]\s*$', raw[:m.start()])
        if pm:
            cands = [os.path.join(base, pm.group(1))]
        for c in cands:
            if os.path.exists(os.path.join(SRC, c)):
                if not is_test_file(c):
                    load(os.path.normpath(c), prefix + (name,))
                break


load('lib.rs', ())


def children(mp):
    return {p[-1] for p in modules if len(p) == len(mp) + 1 and p[:len(mp)] == mp}


def mod_at(rel, pos):
    mp = file_mod[rel]
    for st, en, name in sorted(inline[rel]):
        if st < pos < en:
            mp = mp + (name,)
    return mp


# ----------------------------------------------------------------------------- path extraction
TOK = re.compile(r'\$?[A-Za-z_]\w*|::|[{},*;]')


def parse_use(body, base_off):
    """Yield (segments, offset) for each leaf of a use tree."""
    toks = [(m.group(), base_off + m.start()) for m in TOK.finditer(body)]
    leaves = []

    def tree(i, prefix):
        segs = list(prefix)
        last_off = None
        while i < len(toks):
            t, o = toks[i]
            if t == '{':
                i += 1
                while True:
                    i = tree(i, segs)
                    if toks[i][0] == ',':
                        i += 1
                        if toks[i][0] == '}':
                            break
                        continue
                    break
                assert toks[i][0] == '}', toks[i]
                return i + 1
            if t == '*':
                leaves.append((segs, o, True))
                return i + 1
            if t == '::':
                i += 1
                continue
            if t in (',', '}', ';'):
                if segs != list(prefix):
                    leaves.append((segs, last_off, False))
                return i
            if t == 'as':
                i += 2  # alias name
                continue
            if t == 'self' and segs == list(prefix) and prefix:
                leaves.append((segs, o, False))
                i += 1
                return i
            segs = segs + [t]
            last_off = o
            i += 1
        if segs != list(prefix):
            leaves.append((segs, last_off, False))
        return i

    tree(0, [])
    return leaves


USE_RE = re.compile(r'(?m)(?:^|(?<=[;{}\n]))[ \t]*((?:pub(?:\s*\([^)]*\))?\s+)?)use\s')
PATH_RE = re.compile(r'(?<![\w:$])(\$crate|crate|super|self)((?:\s*::\s*(?:super|[A-Za-z_]\w*))+)')


def resolve(segs, cur):
    """Absolute module path (longest existing prefix) and the full symbol path, or None if external."""
    segs = [x for x in segs]
    if not segs:
        return None
    head = segs[0]
    if head in ('crate', '$crate'):
        absp, rest = [], segs[1:]
    elif head == 'super' or head == 'self':
        absp = list(cur)
        rest = segs
        while rest and rest[0] in ('super', 'self'):
            if rest[0] == 'super':
                absp = absp[:-1]
            rest = rest[1:]
    elif head in children(cur):
        absp, rest = list(cur), segs
    else:
        return None
    full = tuple(absp + rest)
    best = ()
    for k in range(len(full) + 1):
        if full[:k] in modules:
            best = full[:k]
    return best, full


edges = []   # (src_file, src_mod, dst_mod, line, symbol, kind)


def scan(rel):
    s = clean[rel]
    use_spans = []
    for m in USE_RE.finditer(s):
        start = m.end()
        end = item_end(s, start)
        use_spans.append((m.start(), end))
        cur = mod_at(rel, m.start())
        kind = 'pub use' if m.group(1).strip() else 'use'
        # A `#[doc(hidden)] pub use` only keeps a former public path working (a moved module re-exported where
        # it was): no code of the module uses it, so it is no dependency of the module.
        if kind == 'pub use' and re.search(r'#\[\s*doc\s*\(\s*hidden\s*\)\s*\]\s*(#\[[^\]]*\]\s*)*$', s[:m.start()]):
            continue
        for segs, off, glob in parse_use(s[start:end], start):
            r = resolve(segs, cur)
            if r:
                edges.append((rel, cur, r[0], line_of(s, off), '::'.join(r[1]) + ('::*' if glob else ''), kind))
    in_use = lambda p: any(a <= p < b for a, b in use_spans)
    for m in PATH_RE.finditer(s):
        if in_use(m.start()):
            continue
        segs = [m.group(1)] + [x.strip() for x in m.group(2).split('::') if x.strip()]
        cur = mod_at(rel, m.start())
        r = resolve(segs, cur)
        if r:
            edges.append((rel, cur, r[0], line_of(s, m.start()), '::'.join(r[1]), 'path'))
    # paths that start with a child module name: `kv::Space`
    for name in children(file_mod[rel]) | {im[2] for im in inline[rel]}:
        for m in re.finditer(r'(?<![\w:$])%s\s*::\s*[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)*' % re.escape(name), s):
            if in_use(m.start()):
                continue
            cur = mod_at(rel, m.start())
            if name not in children(cur):
                continue
            segs = [x.strip() for x in m.group().split('::')]
            r = resolve(segs, cur)
            if r:
                edges.append((rel, cur, r[0], line_of(s, m.start()), '::'.join(r[1]), 'path'))


for rel in list(clean):
    scan(rel)

# ----------------------------------------------------------------------------- graphs
BRIEF_STORE = {'kv', 'memory', 'index', 'keys', 'dynamodb'}


def node_top(mp):
    return mp[0] if mp else 'lib'


def node_brief(mp):
    if not mp:
        return 'lib'
    if mp[0] == 'store' and len(mp) > 1 and mp[1] in BRIEF_STORE:
        return 'store::' + mp[1]
    if mp[0] in ('customers', 'callbacks', 'providers') and len(mp) > 1:
        return mp[0] + '::' + mp[1]
    return mp[0]


def node_file(mp):
    return modules[mp]


def tarjan(nodes, adj):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def sc(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in adj[v]:
            if w not in index:
                sc(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            sc(v)
    return out


def graph(fn):
    adj = defaultdict(set)
    sites = defaultdict(list)
    nodes = set()
    for rel, cur, dst, line, sym, kind in edges:
        if NO_NESTING and (dst[:len(cur)] == cur or cur[:len(dst)] == dst):
            continue
        a = rel if fn is node_file else fn(cur)
        b = fn(dst)
        nodes |= {a, b}
        if a != b:
            adj[a].add(b)
            sites[(a, b)].append((rel, line, sym, kind))
    return nodes, adj, sites


def report(title, fn):
    nodes, adj, sites = graph(fn)
    sccs = [c for c in tarjan(nodes, adj) if len(c) > 1]
    print('=' * 100)
    print(f'{title}: {len(nodes)} nodes, {sum(len(v) for v in adj.values())} edges, {len(sccs)} non-trivial SCC(s)')
    for c in sccs:
        cs = set(c)
        print('-' * 100)
        print(f'SCC ({len(c)} nodes): ' + ', '.join(c))
        if QUIET:
            continue
        for a in c:
            for b in sorted(adj[a] & cs):
                ss = sites[(a, b)]
                print(f'  {a} -> {b}   [{len(ss)} site(s)]')
                shown = ss if ALL_EDGES else ss[:6]
                for rel, line, sym, kind in shown:
                    print(f'      {rel}:{line}  {kind:7s} crate::{sym}')
                if len(ss) > len(shown):
                    print(f'      ... {len(ss) - len(shown)} more (--all-edges)')
    return nodes, adj, sites, sccs


if __name__ == '__main__':
    import io
    import contextlib
    found = io.StringIO()
    with contextlib.redirect_stdout(found):
        print(f'src={SRC}; files parsed: {len(clean)}; modules: {len(modules)}; path references: {len(edges)}')
        *_, top = report('TOP-LEVEL modules', node_top)
        report('BRIEF granularity (store::{kv,memory,index,keys,dynamodb}, customers::*, callbacks::*, providers::*)', node_brief)
        NO_NESTING = True
        *_, files = report('FILE granularity, links between a module and its own parent or children left out', node_file)
    if top or files or REPORT:
        print(found.getvalue(), end='')
    if top or files:
        print('check-imports: modules import each other around a loop (above); move what both need below both')
        sys.exit(1)
    print(f'check-imports: no import cycle in {os.path.relpath(SRC)} ({len(modules)} modules)')
