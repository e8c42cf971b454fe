#!/usr/bin/env python3
"""Read and write lib/vmsg.map, the linker version script of libvmsg.so.

  abi-map.py list MAP             print the symbols the map names, sorted
  abi-map.py write MAP SYMS NODE  rewrite MAP so that it names exactly the
                                  symbols of file SYMS (one a line): those
                                  already in a node stay there, new ones
                                  go to NODE (made, after the others, if
                                  missing); prints what was added/removed

The map is an explicit list (docs/abi.md): no globs, except the one
"local: *;" of the first node. Anything else is an error here, so that a
hand edit that brings a glob back fails the ABI test.
"""
import re
import sys

HEADER = """\
/* Exported ABI of libvmsg.so (docs/abi.md): every symbol declared by an
 * installed header, under the version node of the release that first
 * shipped it; everything else stays internal. Written by
 * scripts/abi-update.sh: do not add names by hand, run it. */
"""


def parse(path):
    """Return [(node, parent, [symbols])] in file order."""
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    text = re.sub(r"#[^\n]*", "", text)
    nodes = []
    pat = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*([A-Za-z_][A-Za-z0-9_.]*)?\s*;", re.S)
    pos = 0
    for m in pat.finditer(text):
        if text[pos:m.start()].strip():
            sys.exit(f"abi-map: {path}: cannot read {text[pos:m.start()].strip()[:40]!r}")
        pos = m.end()
        name, body, parent = m.group(1), m.group(2), m.group(3)
        syms = []
        scope = None
        for tok in re.findall(r"global:|local:|[^\s;]+", body):
            if tok in ("global:", "local:"):
                scope = tok
            elif scope == "local:":
                if tok != "*" or nodes:
                    sys.exit(f"abi-map: {path}: node {name}: only the first node may say 'local: *;'")
            elif scope == "global:":
                if re.search(r"[*?\[\]]", tok):
                    sys.exit(f"abi-map: {path}: node {name}: glob {tok!r}; the map must name every symbol")
                syms.append(tok)
            else:
                sys.exit(f"abi-map: {path}: node {name}: {tok!r} outside global:/local:")
        nodes.append((name, parent, syms))
    if text[pos:].strip():
        sys.exit(f"abi-map: {path}: cannot read {text[pos:].strip()[:40]!r}")
    return nodes


def write(path, nodes):
    out = [HEADER]
    for i, (name, parent, syms) in enumerate(nodes):
        out.append(f"{name} {{\n")
        if syms:
            out.append("  global:\n")
            out.extend(f"    {s};\n" for s in sorted(syms))
        if i == 0:
            out.append("  local:\n    *;\n")
        out.append(f"}} {parent};\n\n" if parent else "};\n\n")
    open(path, "w").write("".join(out).rstrip("\n") + "\n")


def main(argv):
    if len(argv) == 3 and argv[1] == "list":
        for s in sorted(s for _, _, syms in parse(argv[2]) for s in syms):
            print(s)
        return 0
    if len(argv) == 5 and argv[1] == "write":
        path, node = argv[2], argv[4]
        want = {l.strip() for l in open(argv[3]) if l.strip()}
        nodes = parse(path)
        have = {s for _, _, syms in nodes for s in syms}
        nodes = [(n, p, [s for s in syms if s in want]) for n, p, syms in nodes]
        added = sorted(want - have)
        if added:
            names = [n for n, _, _ in nodes]
            if node not in names:
                nodes.append((node, names[-1] if names else None, []))
            for i, (n, p, syms) in enumerate(nodes):
                if n == node:
                    nodes[i] = (n, p, syms + added)
        write(path, nodes)
        for s in added:
            print(f"abi-map: added {s} to {node}")
        for s in sorted(have - want):
            print(f"abi-map: REMOVED {s} (an incompatible change: docs/abi.md)")
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
