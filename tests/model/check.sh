#!/usr/bin/env bash
# Check the model of cross-region settlement (xr.pml) with spin, exhaustively.
#
#   tests/model/check.sh [--expect-violation] [VARIANT] [-DNAME[=VALUE]...]
#
# VARIANT (default xr):
#   xr             the protocol as docs/federation.md has it: must pass
#   broken_fence   -DBROKEN_NO_FENCE: a void of a hold never seen leaves no fence
#   broken_resend  -DBROKEN_NO_RESEND: the resolver never sends a post or void again
#   push_race      -DCODE_PUSH_RACE: push_decision's two looks at the deciding set
#   replay_race    -DCODE_REPLAY_RACE: replay_if_answered reads, then looks
# -D options go to spin: bounds (-DCRASH_C=, -DDUPS=, -DSTORE_FAILS=) or -DNO_REVOKE.
#
# Without --expect-violation the run passes when spin explores every state and finds
# no assertion violated and no invalid end state, and (with the bounds as they stand)
# the search reaches every probe in the model. With it, the run passes only when spin
# finds a violation (a trail).
#
# Environment: SPIN, CC (the tools), MODEL_MEMLIM (MiB pan may use, default 2048),
# MODEL_DEPTH (search depth bound, default 100000).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
spin=${SPIN:-spin}
cc=${CC:-gcc}
memlim=${MODEL_MEMLIM:-2048}
depth=${MODEL_DEPTH:-100000}

expect_violation=0
variant=xr
defs=()
for arg in "$@"; do
  case "$arg" in
    --expect-violation) expect_violation=1 ;;
    -D*) defs+=("$arg") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check.sh: unknown option $arg" >&2; exit 2 ;;
    *) variant=$arg ;;
  esac
done
case "$variant" in
  xr) ;;
  broken_fence) defs+=(-DBROKEN_NO_FENCE) ;;
  broken_resend) defs+=(-DBROKEN_NO_RESEND) ;;
  push_race) defs+=(-DCODE_PUSH_RACE) ;;
  replay_race) defs+=(-DCODE_REPLAY_RACE) ;;
  *) echo "check.sh: unknown variant $variant" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/gongji-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/xr.pml" "$work/"
cd "$work"

start=$(date +%s)
if ! "$spin" "${defs[@]}" -a xr.pml > spin.out 2>&1; then
  cat spin.out
  echo "model $variant: FAIL (spin could not read the model)"
  exit 1
fi
# Exhaustive: SAFETY leaves out cycle detection (no never claim needs it), COLLAPSE
# compresses each stored state without losing any. MEMLIM bounds what pan may use.
opt=-O2
[ $expect_violation -eq 1 ] && opt=-O1   # a search that stops at its first trail
if ! "$cc" $opt -w -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c > cc.out 2>&1; then
  cat cc.out
  echo "model $variant: FAIL (pan did not compile)"
  exit 1
fi
set +e
./pan -m"$depth" > pan.out 2>&1
set -e
wall=$(( $(date +%s) - start ))

field() { sed -n "$1" pan.out | head -1; }
states=$(field 's/^ *\([0-9.e+]*\) states, stored.*/\1/p')
reached=$(field 's/.*depth reached \([0-9]*\).*/\1/p')
errors=$(field 's/.*errors: \([0-9]*\).*/\1/p')
seconds=$(field 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p')
memory=$(field 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p')
summary="${states:-?} states, depth ${reached:-?}, search ${seconds:-?} s, ${memory:-?} MB, ${wall} s in all"

problems=()
[ -n "$errors" ] || problems+=("pan gave no result")
grep -q 'max search depth too small' pan.out && problems+=("depth bound $depth too small: the search was cut")
grep -q 'reached -DMEMLIM bound' pan.out && problems+=("memory bound ${memlim} MiB reached")
violations=$(grep -E '^pan:[0-9]+: ' pan.out | grep -v 'wrote ' || true)

if [ $expect_violation -eq 1 ]; then
  if [ "${errors:-0}" -gt 0 ] && [ -f xr.pml.trail ]; then
    echo "$violations" | sed 's/^/  /'
    echo "model $variant: PASS (violation found, as expected): $summary"
    exit 0
  fi
  printf '  %s\n' "${problems[@]}" "no violation found"
  echo "model $variant: FAIL (a violation was expected): $summary"
  exit 1
fi

[ "${errors:-1}" = 0 ] || problems+=("errors: $errors")
grep -q 'Search not completed' pan.out && problems+=("search not completed")
# Every probe is reached with the bounds as they stand; other bounds (-D) or a search
# cut short may leave some out, so only the count is shown then.
probes=$(sed -n 's/^#define PROBES \([0-9]*\).*/\1/p' xr.pml)
reached_probes=$(grep -c '^probe [0-9]*$' pan.out || true)
if [ ${#problems[@]} -eq 0 ] && [ ${#defs[@]} -eq 0 ]; then
  for n in $(seq 1 "$probes"); do
    grep -qx "probe $n" pan.out || problems+=("probe $n not reached: the model no longer takes that path")
  done
fi
if [ ${#problems[@]} -gt 0 ]; then
  [ -n "$violations" ] && echo "$violations" | sed 's/^/  /'
  printf '  %s\n' "${problems[@]}"
  if [ -f xr.pml.trail ]; then
    echo "  the trail, last steps:"
    "$spin" "${defs[@]}" -t -p -g xr.pml 2>&1 | grep -E '^ *[0-9]+:' | tail -60 | cut -c1-200 | sed 's/^/    /'
  fi
  echo "model $variant: FAIL: $summary"
  exit 1
fi
echo "model $variant${defs:+ ${defs[*]}}: PASS ($reached_probes of $probes probes reached): $summary"
