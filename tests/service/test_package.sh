#!/usr/bin/env bash
# The .deb CPack makes of the install tree: lintian finds no error in it, it holds what
# an operator needs where Debian puts it, and apt would install it here (Debian 12).
set -uo pipefail
build=${GONGJI_BUILD_DIR:?}
dir=$(mktemp -d /tmp/gongji-package-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
(cd "$build" && cpack -G DEB -B "$dir" >"$dir/cpack.log" 2>&1); check "cpack makes a .deb" 0 $?
deb=$(ls "$dir"/gongji_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$dir/cpack.log"; echo "passed=$passed failed=$((failed + 1))"; exit 1; }
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/gongji-node ./usr/bin/gongji ./usr/bin/gongji-gateway ./lib/systemd/system/gongji-node@.service \
         ./usr/lib/sysusers.d/gongji.conf ./usr/lib/tmpfiles.d/gongji.conf ./usr/share/man/man1/gongji-node.1.gz \
         ./usr/share/doc/gongji/copyright ./usr/share/doc/gongji/changelog.Debian.gz; do
  check "the package holds $f" 1 "$(grep -c " $f\$" <<<"$contents")"
done
check "its maintainer script makes the gongji user" 1 "$(dpkg-deb -I "$deb" postinst | grep -c 'systemd-sysusers gongji.conf')"
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$deb" >"$dir/lintian" 2>&1
  check "lintian: no errors" 0 "$(grep -c '^E:' "$dir/lintian")"
  grep '^[EW]:' "$dir/lintian"
else
  echo "note: no lintian here (deploy/install-deps.sh installs it)"
fi
if command -v apt-get >/dev/null; then
  apt-get install -s "$deb" >"$dir/apt" 2>&1; check "apt would install it" 0 $?
  tail -3 "$dir/apt" | grep -v '^Inst\|^Conf' || true
fi
echo "passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
