#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The Debian packages qiki needs, grouped by purpose, so that each make
# target installs only its own:
#   build   compile and run the loop, the launcher and the telemetry edge
#           (make, make run, make install)
#   test    make test: unit tests, sanitizer builds, strace/capsh checks,
#           the protobuf and MCAP readers
#   bench   make bench: the machine's floor, plots, the ck baseline
#   tracer  the eBPF tracer (clang for the BPF object, bpftool for the skeleton)
#   rt-vm   make test-rt, test-rt-ci, bench-rt: Debian's PREEMPT_RT kernel in
#           QEMU (the kernel package is fetched with apt-get download, never
#           installed)
#
# usage: mk/deps.sh [--check] GROUP...     (no GROUP: every group)
#   --check or NO_DEPS=1: install nothing; name what is missing, print the
#   apt-get line that installs it, exit 1.
# Otherwise the missing packages are installed with apt-get (as root, or
# through sudo); without either the script says so, prints the line to run,
# and exits 1.
# QK_DEPS_HIDE="pkg ..." makes the check treat those packages as missing
# (the tests use it to prove the message without uninstalling anything).
set -eu

# group : package : what proves it is there (a pkg-config module, a command,
# a file, a python module, an installed package)
deps=(
  "build:gcc:cmd:gcc"
  "build:make:cmd:make"
  "build:pkg-config:cmd:pkg-config"
  "build:liburing-dev:pc:liburing"
  "build:libbpf-dev:pc:libbpf"
  "build:libprotobuf-c-dev:pc:libprotobuf-c"
  "build:protobuf-c-compiler:cmd:protoc-c"
  "build:protobuf-compiler:cmd:protoc"
  "build:libprotobuf-dev:file:/usr/include/google/protobuf/timestamp.proto"
  "build:libzstd-dev:pc:libzstd"
  "build:libyaml-dev:pc:yaml-0.1"
  "test:libcmocka-dev:pc:cmocka"
  "test:python3:file:/usr/bin/python3"
  "test:python3-protobuf:py:google.protobuf"
  "test:python3-websockets:py:websockets"
  "test:gcc-arm-none-eabi:cmd:arm-none-eabi-gcc"
  "test:iproute2:cmd:ip"
  "test:strace:cmd:strace"
  "test:libcap2-bin:cmd:capsh"
  "test:clang:cmd:clang"
  "test:nodejs:cmd:node"
  "test:npm:cmd:npm"
  "test:man-db:cmd:man"
  "test:binutils:cmd:readelf"
  "test:passwd:cmd:useradd"
  "test:util-linux:cmd:setpriv"
  "test:dpkg-dev:cmd:dpkg-buildflags"
  "bench:rt-tests:cmd:cyclictest"
  "bench:valgrind:cmd:valgrind"
  "bench:gnuplot-nox:cmd:gnuplot"
  "bench:libck-dev:file:/usr/include/ck_ring.h"
  "bench:python3:file:/usr/bin/python3"
  "tracer:clang:cmd:clang"
  "tracer:llvm:cmd:llvm-strip"
  "tracer:bpftool:cmd:bpftool"
  "tracer:libbpf-dev:pc:libbpf"
  "tracer:libelf-dev:pc:libelf"
  "tracer:zlib1g-dev:pc:zlib"
  "rt-vm:qemu-system-x86:cmd:qemu-system-x86_64"
  "rt-vm:busybox-static:pkg:busybox-static"
  "rt-vm:rtla:cmd:rtla"
  "rt-vm:rt-tests:cmd:cyclictest"
  "rt-vm:strace:cmd:strace"
)
groups_all="build test bench tracer"	# rt-vm only when named

check=0
[ "${NO_DEPS:-0}" = 1 ] && check=1
want=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    build|run|test|bench|tracer|rt-vm) want+=("${a/#run/build}") ;;
    -h|--help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps: unknown group '$a': expected build, run, test, bench, tracer or rt-vm" >&2; exit 2 ;;
  esac
done
[ ${#want[@]} -gt 0 ] || read -ra want <<<"$groups_all"

hidden=" ${QK_DEPS_HIDE:-} "
present() {	# kind what
  case $1 in
    pc)   ${PKG_CONFIG:-pkg-config} --exists "$2" 2>/dev/null ;;
    cmd)  local p; p=$(command -v "$2" 2>/dev/null) && [ -f "$p" ] && [ -x "$p" ] ;;
    file) [ -e "$2" ] ;;
    py)   /usr/bin/python3 -c "import $2" 2>/dev/null ;;
    pkg)  dpkg-query -W -f='${Status}' "$2" 2>/dev/null | grep -q 'ok installed' ;;
  esac
}

missing=()
for d in "${deps[@]}"; do
  IFS=: read -r group pkg kind what <<<"$d"
  [[ " ${want[*]} " == *" $group "* ]] || continue
  [[ " ${missing[*]:-} " == *" $pkg "* ]] && continue
  if [[ $hidden != *" $pkg "* ]] && present "$kind" "$what"; then
    continue
  fi
  missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install --no-install-recommends ${missing[*]}"
if [ $check = 1 ]; then
  {
    echo "deps: missing Debian packages for ${want[*]}: ${missing[*]}"
    echo "deps: install them with: sudo apt-get update && sudo $line"
    echo "deps: (NO_DEPS=1 only checks; without it make installs them itself)"
  } >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  # sudo that may ask for a password only when someone can type it
  if command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
    sudo="sudo"
  else
    {
      echo "deps: missing Debian packages for ${want[*]}: ${missing[*]}"
      echo "deps: cannot install them: not root, and no sudo (or sudo needs a password and nobody can type it)"
      echo "deps: ask an administrator to run: apt-get update && $line"
      echo "deps: then build again (NO_DEPS=1 skips this step and only checks)"
    } >&2
    exit 1
  fi
fi
echo "deps: installing missing Debian packages for ${want[*]}: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo $line -y -qq
echo "deps: installed ${missing[*]}"
