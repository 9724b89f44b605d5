#!/usr/bin/env bash
# Build an ngspice with the KLU sparse solver into a cache folder (optional; the default
# setup keeps Debian's ngspice). Used only by hand or by `make ngspice-klu`:
#
#   tools/ngspice-klu.sh
#   NGSPICE_KLU_PREFIX=/some/dir tools/ngspice-klu.sh
#   python benchmarks/spice_scale.py --ngspice /opt/deepxbar/ngspice-klu/bin/ngspice --variants deck:klu,fast:klu
#
# KLU entered ngspice in version 42 (NEWS: "New optional matrix solver KLU (select by
# 'option klu')"); Debian bookworm's ngspice 39 has neither KLU nor its sources
# (src/maths/KLU is missing from 39.3+ds), so the 39 source package cannot give a KLU
# build. Sources tried, in order, each kept only if it carries src/maths/KLU:
#   1. Debian's source package of bookworm-backports (ngspice 46), via `apt-get source`
#      with a deb-src entry in its own file /etc/apt/sources.list.d/deepxbar-deb-src.sources
#      (source packages only: no binary package of the system changes);
#   2. the upstream release tarball ngspice-$NGSPICE_VERSION (default 45.2) from SourceForge.
# Configured with --enable-klu --with-x=no --with-readline=no --disable-debug, installed
# into $PREFIX (default /opt/deepxbar/ngspice-klu); nothing goes on PATH. A second run is
# a no-op when $PREFIX/bin/ngspice exists and carries KLU. Needs root (or sudo) for
# apt-get: build tools only (build-essential bison flex autoconf automake libtool
# dpkg-dev curl). Exits non-zero, saying why, when no source can be fetched.
set -euo pipefail

PREFIX=${NGSPICE_KLU_PREFIX:-/opt/deepxbar/ngspice-klu}
BIN="$PREFIX/bin/ngspice"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
VERSION=${NGSPICE_VERSION:-45.2}
SUITE=${NGSPICE_DEBIAN_SUITE:-bookworm-backports}
LIST=/etc/apt/sources.list.d/deepxbar-deb-src.sources

has_klu() {  # runs, and the binary carries the KLU solver (Debian's 39 has no "KLU" string)
    [ -x "$1" ] && "$1" --version >/dev/null 2>&1 && grep -qa 'KLU' "$1"
}

if has_klu "$BIN"; then
    echo "ngspice-klu: cached at $BIN"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
TOOLS="build-essential bison flex autoconf automake libtool dpkg-dev curl ca-certificates"

echo "ngspice-klu: installing build tools"
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $TOOLS >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $TOOLS >/dev/null; }

WORK=$(mktemp -d /tmp/ngspice-klu-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
SRC=""

debian_source() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    if ! apt-cache showsrc "ngspice/$SUITE" 2>/dev/null | grep -q '^Package: ngspice'; then
        echo "ngspice-klu: adding deb-src entries ($codename, $SUITE) in $LIST"
        $SUDO tee "$LIST" >/dev/null <<SRCS
# added by deepxbar tools/ngspice-klu.sh: source packages only, safe to delete
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
        $SUDO apt-get update -qq || return 1
    fi
    apt-get source -qq "ngspice/$SUITE" >/dev/null 2>&1 || return 1
    SRC=$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'ngspice-*' | head -n1)
    [ -n "$SRC" ] && [ -d "$SRC/src/maths/KLU" ]
}

upstream_source() {
    local url="https://downloads.sourceforge.net/project/ngspice/ng-spice-rework/${VERSION}/ngspice-${VERSION}.tar.gz"
    curl -fsSL --retry 2 --connect-timeout 20 -o ngspice.tar.gz "$url" || return 1
    tar xzf ngspice.tar.gz
    SRC="$WORK/ngspice-${VERSION}"
    [ -d "$SRC/src/maths/KLU" ]
}

echo "ngspice-klu: fetching Debian's source package ngspice/$SUITE"
if ! debian_source; then
    echo "ngspice-klu: not available (or without src/maths/KLU); trying upstream ngspice-$VERSION"
    rm -rf "$WORK"/ngspice*
    if ! upstream_source; then
        echo "ngspice-klu: no ngspice source with KLU could be fetched (Debian $SUITE source package" \
             "and the SourceForge tarball both failed); nothing built" >&2
        exit 2
    fi
fi

echo "ngspice-klu: building $(basename "$SRC") into $PREFIX with $JOBS jobs"
cd "$SRC"
[ -x configure ] || ./autogen.sh >autogen.log 2>&1 || { tail -n 20 autogen.log; exit 1; }
mkdir -p build-klu && cd build-klu
../configure --prefix="$PREFIX" --enable-klu --with-x=no --with-readline=no --disable-debug \
    --enable-xspice --enable-cider --enable-openmp >configure.log 2>&1 || { tail -n 30 configure.log; exit 1; }
make -j"$JOBS" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }
$SUDO mkdir -p "$PREFIX"
$SUDO make install >install.log 2>&1 || { tail -n 20 install.log; exit 1; }

if has_klu "$BIN"; then
    echo "ngspice-klu: built $BIN ($("$BIN" --version | grep -o 'ngspice-[0-9.]*' | head -n1));" \
         "decks select KLU with '.options klu'"
else
    echo "ngspice-klu: $BIN built but does not carry KLU" >&2
    exit 1
fi
