#!/usr/bin/env bash
# uv_echo: libvmsg-uv's example (examples/uv-echo) serves two channels
# from one libuv loop: two clients at once, each with 64 messages of up to
# 20000 bytes in flight through 64 KiB rings (so echoes wait for room and
# the example's channels pause and resume), 3000 echoes each, all checked;
# then a second client on the first channel (published again after the
# first left); SIGTERM stops it with exit status 0 and its counts.
# usage: uv_echo.sh UV_ECHO UV_ECHO_CHECK
set -uo pipefail
echo_bin=$1 check=$2
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "uv_echo: FAIL: $*" >&2; [ -f "$dir/echo.err" ] && sed 's/^/  uv-echo: /' "$dir/echo.err" >&2; exit 1; }

"$echo_bin" --listen "$dir/a" --listen "$dir/b" >"$dir/echo.out" 2>"$dir/echo.err" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/a" ] && [ -S "$dir/b" ] && break; sleep 0.1; done
[ -S "$dir/a" ] && [ -S "$dir/b" ] || fail "uv-echo did not serve"
timeout 120 "$check" "$dir/a" 3000 & c1=$!
timeout 120 "$check" "$dir/b" 3000 & c2=$!
wait $c1 || fail "client on a"
wait $c2 || fail "client on b"
timeout 120 "$check" "$dir/a" 500 || fail "second client on a"
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
[ $rc = 0 ] || fail "uv-echo exited $rc after SIGTERM"
cat "$dir/echo.out"
grep -q "$dir/a: 2 clients, 3500 messages" "$dir/echo.out" || fail "counts on a"
grep -q "$dir/b: 1 clients, 3000 messages" "$dir/echo.out" || fail "counts on b"
echo "uv_echo: ok"
