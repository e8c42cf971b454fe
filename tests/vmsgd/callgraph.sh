#!/bin/sh
# vmsgd's call graph between its .c files must have no circle
# (docs/vmsgd.md, "Inside vmsgd"): no two or more of dom0/vmsgd's files
# may call into each other in a loop.
#
# Usage: callgraph.sh [--print] OBJDIR | OBJ...
#        callgraph.sh --selftest
#   OBJDIR or OBJ...: the vmsgd target's object files (ctest passes
#   $<TARGET_OBJECTS:vmsgd>; by hand: build/release/dom0/CMakeFiles/
#   vmsgd.dir/vmsgd). An edge A -> B is a symbol that A.o needs (nm -u)
#   and B.o defines (nm --defined-only: functions and data). A call
#   through a function pointer is no edge: that is how a lower file calls
#   back into a higher one it does not name (struct transport, struct
#   broker_notify, struct session_ops).
#   --print: print the edges ("A -> B: sym ...") too.
#   --selftest: compile two files that call each other and one that
#   calls them, and check that the circle is found (and no more).
# Exits 0 when the graph is acyclic, 1 when it has a circle (printed), 77
# (skip) when the objects are missing, 2 on a usage error.
set -eu
print=
if [ "${1:-}" = --selftest ]; then
	st=$(mktemp -d)
	trap 'rm -rf "$st"' EXIT
	printf 'void b(void);\nvoid a(void) { b(); }\n' >"$st/a.c"
	printf 'void a(void);\nvoid b(void) { a(); }\n' >"$st/b.c"
	printf 'void a(void);\nint main(void) { a(); return 0; }\n' \
		>"$st/top.c"
	for f in a b top; do ${CC:-cc} -c -o "$st/$f.c.o" "$st/$f.c"; done
	out=$("$0" "$st"/*.o 2>&1) && {
		echo "callgraph: selftest: the circle a.c <-> b.c was missed" >&2
		exit 1
	}
	echo "$out" | grep -q '^callgraph: circle: \(a\.c b\.c\|b\.c a\.c\)$' || {
		echo "callgraph: selftest: wrong answer: $out" >&2
		exit 1
	}
	rm "$st/b.c.o"
	"$0" "$st"/*.o >/dev/null || {
		echo "callgraph: selftest: a circle seen where there is none" >&2
		exit 1
	}
	echo "callgraph: selftest: ok"
	exit 0
fi
if [ "${1:-}" = --print ]; then
	print=--print
	shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [--print] OBJDIR | OBJ..." >&2; exit 2; }
# ctest hands $<TARGET_OBJECTS> over as one ;-separated list.
if [ $# -eq 1 ] && [ "${1#*;}" != "$1" ]; then
	oldifs=$IFS
	IFS=';'
	# shellcheck disable=SC2086 # split on ; on purpose
	set -- $1
	IFS=$oldifs
fi
[ $# -eq 1 ] && [ -d "$1" ] && set -- "$1"/*.o
[ -e "$1" ] || { echo "callgraph: no objects" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "$@"; do
	f=$(basename "$o" .o)
	nm --defined-only "$o" | awk -v f="$f" \
		'$2 ~ /^[TDBRVW]$/ { print $3, f }' >>"$tmp/defs"
	nm -u "$o" | awk -v f="$f" '{ print f, $2 }' >>"$tmp/uses"
done
# edges: user defining-file symbol
awk 'NR == FNR { def[$1] = $2; next }
     ($2 in def) && def[$2] != $1 { print $1, def[$2], $2 }' \
	"$tmp/defs" "$tmp/uses" | sort >"$tmp/edges"
if [ "$print" = --print ]; then
	awk '{ k = $1 " -> " $2; s[k] = s[k] " " $3 }
	     END { for (k in s) print k ":" s[k] }' "$tmp/edges" | sort
fi
# Circles: the strongly connected components with two or more files
# (a depth-first search over the file graph, Tarjan's).
awk '
{ if (!(($1, $2) in seen)) { seen[$1, $2] = 1; adj[$1] = adj[$1] " " $2 }
  node[$1] = 1; node[$2] = 1 }
function visit(v,    n, i, w, ws, comp, size) {
	idx[v] = low[v] = ++counter
	stack[++sp] = v; on[v] = 1
	n = split(adj[v], ws, " ")
	for (i = 1; i <= n; i++) {
		w = ws[i]
		if (!(w in idx)) {
			visit(w)
			if (low[w] < low[v]) low[v] = low[w]
		} else if (on[w] && idx[w] < low[v]) {
			low[v] = idx[w]
		}
	}
	if (low[v] == idx[v]) {
		comp = ""; size = 0
		do { w = stack[sp--]; on[w] = 0; comp = comp " " w; size++ }
		while (w != v)
		if (size > 1) { print "callgraph: circle:" comp; bad = 1 }
	}
}
END {
	for (v in node) if (!(v in idx)) visit(v)
	exit bad
}' "$tmp/edges" || { echo "callgraph: FAIL: vmsgd's files call each other in a loop" >&2; exit 1; }
echo "callgraph: ok: no circle between vmsgd's files"
