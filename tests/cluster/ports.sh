# Sourced by the shell tests: a loopback port for a node of theirs.

# A loopback port below the ephemeral range that nothing answers on now, reserved in
# the directory the C tests use too (a file per port), so tests running side by side
# never pick the same one. The reservation goes with the shell (an EXIT trap of the
# caller may remove it; one older than an hour is a crashed run's).
free_port() {
  local p dir=/tmp/gongji-test-ports
  mkdir -p "$dir" 2>/dev/null
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    find "$dir/$p" -mmin +60 -delete 2>/dev/null
    (set -o noclobber; : > "$dir/$p") 2>/dev/null || continue
    echo "$p"
    return 0
  done
  return 1
}
