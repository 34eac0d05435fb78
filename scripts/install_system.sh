#!/usr/bin/env bash
# Installs the Debian packages the offline zoo and the browser test use. As root: apt-get. Otherwise the .deb files
# are downloaded and unpacked into the encoderscope cache (no root needed). Failure is not fatal: the affected zoo
# entries report themselves unavailable in one line and everything else works.
set -u
packages=(dataset-fashion-mnist darknet chromium)
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
[ -f /usr/share/darknet/data/dog.jpg ] || missing+=(darknet)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi
echo "system packages missing: ${missing[*]}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || echo "warning: apt-get update failed"
  if apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    echo "system packages: installed ${missing[*]}"
    exit 0
  fi
  echo "warning: apt-get install failed for some of: ${missing[*]}; trying them one by one"
  for p in "${missing[@]}"; do
    apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || echo "warning: could not install $p"
  done
  exit 0
fi
cache="${ENCODERSCOPE_CACHE:-$HOME/.cache/encoderscope}/debian"
mkdir -p "$cache"
tmp=$(mktemp -d)
for p in "${missing[@]}"; do
  [ "$p" = chromium ] && { echo "warning: chromium needs root (apt); the browser test will be skipped"; continue; }
  if (cd "$tmp" && apt-get download "$p" >/dev/null 2>&1); then
    dpkg -x "$tmp"/"$p"_*.deb "$cache" && echo "system packages: unpacked $p into $cache"
  else
    echo "warning: could not download $p; zoo entries that need it will say so"
  fi
done
rm -rf "$tmp"
exit 0
