#!/usr/bin/env bash
# Install what gongji needs to build and test on Debian 12, skipping what is there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libnng-dev liblmdb-dev libprotobuf-c-dev
      protobuf-c-compiler libcmocka-dev libinih-dev libcjson-dev libssl-dev openssl spin
      libmicrohttpd-dev libgnutls28-dev libzip-dev libsystemd-dev python3 curl lintian dpkg-dev libxml2-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
