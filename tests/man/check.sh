#!/usr/bin/env bash
# The man pages, as installed: install BUILD into a temporary prefix, then
# - every command installed into bin/ and sbin/ has its page (man1 for
#   bin/, man8 for sbin/), and vmsgd.conf(5) is there when vmsgd is;
# - every --long-option a command's --help prints (and, for vmsg-bench,
#   each subcommand's --help) appears in the command's page.
# Usage: check.sh CMAKE BUILD
set -euo pipefail
cmake=$1 build=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install failed"; }
man=$prefix/share/man
libdir=$(dirname "$(find "$prefix" -name 'libvmsg.so.*' -print -quit)")
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The words a page shows: roff with its font escapes and \- \& undone.
page_text() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' "$1"; }

# Subcommands whose own --help has more options than the command's.
subcommands() {
	case $1 in
	vmsg-bench) echo "pingpong stream setup" ;;
	esac
}

bad=0 pages=0 options=0
for dir in bin sbin; do
	[ -d "$prefix/$dir" ] || continue
	section=1
	[ $dir = sbin ] && section=8
	for exe in "$prefix/$dir"/*; do
		name=$(basename "$exe")
		page=$man/man$section/$name.$section
		if [ ! -f "$page" ]; then
			echo "no man page $name($section) for installed $dir/$name (add man/$name.$section.scd)"
			bad=1
			continue
		fi
		pages=$((pages + 1))
		page_text "$page" > "$tmp/page"
		: > "$tmp/help"
		"$exe" --help >> "$tmp/help" 2>&1 || fail "$dir/$name --help failed"
		for sub in $(subcommands "$name"); do
			"$exe" "$sub" --help >> "$tmp/help" 2>&1 ||
				fail "$dir/$name $sub --help failed"
		done
		opts=$(grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u)
		[ -n "$opts" ] || fail "$dir/$name --help shows no --option"
		for o in $opts; do
			options=$((options + 1))
			if ! grep -q -- "$o\([^a-z0-9-]\|$\)" "$tmp/page"; then
				echo "$name($section) does not mention $o (from $name --help)"
				bad=1
			fi
		done
	done
done
if [ -x "$prefix/sbin/vmsgd" ] && [ ! -f "$man/man5/vmsgd.conf.5" ]; then
	echo "no man page vmsgd.conf(5)"
	bad=1
fi
[ $pages -gt 0 ] || fail "no command installed under $prefix"
[ $bad = 0 ] || fail "man pages and --help disagree (man/*.scd)"
echo "ok: $pages commands, $options --help options, all in their pages"
