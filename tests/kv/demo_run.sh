# Sourced by demo_sim_check.sh and demo_host_check.sh: run the demo DEMO
# (the first argument) against BUILD (the second) with a short benchmark,
# keep its output in $out and show it, and give need, saw and the final
# verdict. $name (set before sourcing) prefixes every complaint.
demo=$1
build=$2
out=$(mktemp "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -f "$out"' EXIT

VMSG_DEMO_BENCH=500 "$demo" "$build" >"$out" 2>&1
st=$?
cat "$out"
bad=0
# need TEXT: a line of the output contains TEXT.
need() {
	if ! grep -qF -- "$1" "$out"; then
		echo "$name: missing from the demo's output: $1" >&2
		bad=1
	fi
}
# saw REGEX WHY: a line of the output matches REGEX (grep -E), else WHY.
saw() {
	if ! grep -Eq -- "$1" "$out"; then
		echo "$name: $2" >&2
		bad=1
	fi
}
# verdict: the demo's exit status counts too; exits with the result.
verdict() {
	if [ "$st" -ne 0 ]; then
		echo "$name: the demo exited with status $st" >&2
		bad=1
	fi
	exit "$bad"
}
