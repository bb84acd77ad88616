#!/usr/bin/env bash
# Builds a free-threaded CPython 3.13 (`python3.13t`, configure
# --disable-gil) into target/python-ft from Debian's source package
# (deb.debian.org, one of the registries this machine reaches; no
# interpreter with the GIL disabled is packaged there, nor on PyPI). The GIL
# lab (pool_lab.py) adds its threads as the `python_ft_threads` peer when
# bench/run.sh finds target/python-ft/bin/python3.13t. ~10 minutes on 2 cores.
#   bash bench/python/build_free_threaded.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=3.13.15
SHA256=1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76
URL="http://deb.debian.org/debian/pool/main/p/python3.13/python3.13_${VERSION}.orig.tar.xz"
PREFIX="$PWD/target/python-ft"
if [ -x "$PREFIX/bin/python3.13t" ]; then
  echo "$PREFIX/bin/python3.13t"
  exit 0
fi
work="$PWD/target/python-ft-build"
mkdir -p "$work"
tarball="$work/python3.13_${VERSION}.orig.tar.xz"
[ -f "$tarball" ] || curl -fsSL "$URL" -o "$tarball"
echo "$SHA256  $tarball" | sha256sum -c --quiet
rm -rf "$work/src" && mkdir -p "$work/src"
tar -xJf "$tarball" -C "$work/src" --strip-components=1
cd "$work/src"
./configure --disable-gil --prefix="$PREFIX" --without-ensurepip -q
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
"$PREFIX/bin/python3.13t" -c 'import sys; assert not sys._is_gil_enabled(), "the GIL is on"'
echo "$PREFIX/bin/python3.13t"
