# Sourced by the shell tests: check NAME EXPECTED ACTUAL counts a pass, or counts a
# failure and prints what was wanted and what came; each test ends on $failed.
passed=0 failed=0
check() { # name, expected, actual
  if [ "$2" == "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1: want [$2] got [$3]"; fi
}
