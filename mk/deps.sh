#!/usr/bin/env bash
# Checks that every Debian package qiki builds, tests or benchmarks with is
# present, and installs the missing ones with apt-get (root needed).
# Usage: mk/deps.sh [--check]   (--check: report only, exit 1 if missing)
set -eu

# package : what proves it is there (a pkg-config module, a command or a header)
deps=(
  "build-essential:cmd:gcc"
  "pkg-config:cmd:pkg-config"
  "liburing-dev:pc:liburing"
  "libbpf-dev:pc:libbpf"
  "libprotobuf-c-dev:pc:libprotobuf-c"
  "protobuf-c-compiler:cmd:protoc-c"
  "protobuf-compiler:cmd:protoc"
  "libprotobuf-dev:hdr:/usr/include/google/protobuf/timestamp.proto"
  "python3-protobuf:py:google.protobuf"
  "python3-websockets:py:websockets"
  "libzstd-dev:pc:libzstd"
  "libcmocka-dev:pc:cmocka"
  "libyaml-dev:pc:yaml-0.1"
  "libck-dev:hdr:/usr/include/ck_ring.h"
  "clang:cmd:clang"
  "bpftool:cmd:bpftool"
  "rt-tests:cmd:cyclictest"
  "strace:cmd:strace"
  "libcap2-bin:cmd:capsh"
  "valgrind:cmd:valgrind"
  "gnuplot-nox:cmd:gnuplot"
  "python3:cmd:python3"
  "nodejs:cmd:node"
  "npm:cmd:npm"
)

missing=()
for d in "${deps[@]}"; do
  IFS=: read -r pkg kind what <<<"$d"
  case $kind in
    pc)  pkg-config --exists "$what" 2>/dev/null && continue ;;
    cmd) command -v "$what" >/dev/null 2>&1 && continue ;;
    hdr) [ -e "$what" ] && continue ;;
    py)  /usr/bin/python3 -c "import $what" 2>/dev/null && continue ;;
  esac
  missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
  echo "deps: missing Debian packages: ${missing[*]} (run 'make deps')" >&2
  exit 1
fi
echo "deps: installing missing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}"
