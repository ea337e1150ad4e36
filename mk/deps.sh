#!/usr/bin/env bash
# Checks that every Debian package qiki builds, tests or benchmarks with is
# present, and installs the missing ones with apt-get (root needed).
# Usage: mk/deps.sh [--check] [GROUP]   (--check: report only, exit 1 if
# missing; GROUP: rt-vm checks only that group, which `make test-rt`,
# `make test-rt-ci` and `make bench-rt` install for themselves)
set -eu
check=""
[ "${1:-}" = "--check" ] && { check=1; shift; }
group=${1:-default}

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
  "libelf-dev:pc:libelf"		# qiki-rtlat links libbpf's own dependencies
  "zlib1g-dev:pc:zlib"
  "rt-tests:cmd:cyclictest"
  "strace:cmd:strace"
  # tests: the HIL codec's Cortex-M4 build, the HIL rig's network namespaces
  "gcc-arm-none-eabi:cmd:arm-none-eabi-gcc"
  "iproute2:cmd:ip"
  "libcap2-bin:cmd:capsh"
  "valgrind:cmd:valgrind"
  "gnuplot-nox:cmd:gnuplot"
  "python3:cmd:python3"
  "nodejs:cmd:node"
  "npm:cmd:npm"
)

# rt-vm: booting Debian's PREEMPT_RT kernel in QEMU (tools/rt-vm/); the
# kernel package itself is fetched with `apt-get download`, never installed
deps_rt_vm=(
  "qemu-system-x86:cmd:qemu-system-x86_64"
  "busybox-static:pkg:busybox-static"
  "rtla:cmd:rtla"
  "rt-tests:cmd:cyclictest"
  "strace:cmd:strace"
)
case $group in
  default) ;;
  rt-vm) deps=("${deps_rt_vm[@]}") ;;
  *) echo "deps: unknown group '$group' (known: rt-vm)" >&2; exit 1 ;;
esac

missing=()
for d in "${deps[@]}"; do
  IFS=: read -r pkg kind what <<<"$d"
  case $kind in
    pc)  pkg-config --exists "$what" 2>/dev/null && continue ;;
    cmd) command -v "$what" >/dev/null 2>&1 && continue ;;
    hdr) [ -e "$what" ] && continue ;;
    py)  /usr/bin/python3 -c "import $what" 2>/dev/null && continue ;;
    pkg) dpkg-query -W -f='${Status}' "$what" 2>/dev/null | grep -q 'ok installed' && continue ;;
  esac
  missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ -n "$check" ]; then
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
