#!/usr/bin/env bash
# Compare two abidw dumps (scripts/abi-dump.sh) and classify the change;
# prints abidiff's report. Exit status: 0 no change; 4 only additions
# (new functions or variables; abidiff's harmless changes such as a new
# enumerator do not count as changes); 8 anything else, which docs/abi.md
# treats as incompatible: abidiff itself marks only removals as
# incompatible and calls a changed struct layout a mere "change", but a
# caller compiled against the old layout breaks all the same. 1: error.
# Usage: scripts/abi-compare.sh OLD.xml NEW.xml
set -euo pipefail
old=${1:?usage: abi-compare.sh OLD.xml NEW.xml} new=${2:?}
rc=0
abidiff --no-show-locs "$old" "$new" || rc=$?
[ $((rc & 3)) -eq 0 ] || { echo "abi-compare: abidiff failed (rc $rc)" >&2; exit 1; }
[ "$rc" -ne 0 ] || exit 0
rc=0
abidiff --no-show-locs --no-added-syms "$old" "$new" >/dev/null || rc=$?
[ $((rc & 3)) -eq 0 ] || { echo "abi-compare: abidiff failed (rc $rc)" >&2; exit 1; }
[ "$rc" -eq 0 ] && exit 4
exit 8
