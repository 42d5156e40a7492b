# Sourced by the shell tests that run one Chengdu (510100) node over TLS: they set
# $dir (holding pki/ from deploy/pki.sh cluster), $node_bin and a function g that
# calls the node as its operator (with $url). node_start DATA_DIR starts it on a fresh
# port (each try another, in case a process takes one first) and waits until it
# answers; node_stop stops it cleanly. $node_extra, when set, adds lines to [node].
# shellcheck source=tests/cluster/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cluster/ports.sh"

node_start() {
  local p
  for _ in 1 2 3 4 5; do
    p=$(free_port) || break
    url=tls+tcp://127.0.0.1:$p
    cat > "$dir/node.ini" <<INI
[node]
region = 510100
listen = $url
data_dir = $1
log_file = $dir/node.log
tls_ca = $dir/pki/ca.crt
tls_cert = $dir/pki/node-510100.pem
tls_crl = $dir/pki/crl.pem
${node_extra:-}
[policy]
live = yes
cascade = yes
INI
    "$node_bin" --config "$dir/node.ini" & pid=$!
    for _ in $(seq 1 100); do
      g --timeout 200 health >/dev/null 2>&1 && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
  done
  echo "node did not start; its log:"; tail -5 "$dir/node.log" 2>/dev/null; return 1
}
node_stop() { kill "$pid"; wait "$pid" 2>/dev/null; pid=; }
