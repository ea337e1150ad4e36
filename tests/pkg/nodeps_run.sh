#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# `make NO_DEPS=1 run` where only the build packages are installed, for real:
# in a private mount namespace every file of the test, bench and tracer
# packages that a build could use (programs, headers, libraries, .pc files,
# python modules) is hidden under /dev/null or an empty directory; then a
# fresh build dir builds the programs and runs the loop, and
# `make NO_DEPS=1 tests` stops naming the missing packages.  A full build
# (about a minute): `make test-nodeps`, not part of `make test`.
# usage: tests/pkg/nodeps_run.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  echo "SKIP: hiding packages in a mount namespace needs root and unshare"; exit 0
fi
if [ "${QK_NODEPS_INSIDE:-}" != 1 ]; then
  QK_NODEPS_INSIDE=1 exec unshare -m --propagation private "$0" "$@"
fi
out=$(mktemp -d)
inst="t-nodeps-$$"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
trap 'rm -f "/dev/shm/qiki.$inst"; rm -rf "$out"' EXIT

# what a build-only machine would still have: the build group, what it
# depends on, and the base system (util-linux, passwd, python3, man-db, dpkg-dev)
build_pkgs=$(sed -n 's/^  "build:\([^:]*\):.*/\1/p' mk/deps.sh | sort -u)
# ... and whatever the build packages depend on (libbpf-dev brings libelf-dev)
keep="util-linux passwd python3 man-db dpkg-dev $(apt-cache depends --recurse --installed \
  --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  $build_pkgs 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u | tr '\n' ' ')"
hide=$(sed -n 's/^  "\(test\|bench\|tracer\):\([^:]*\):.*/\2/p' mk/deps.sh | sort -u |
  comm -23 - <(echo "$build_pkgs") | grep -vxF -f <(tr ' ' '\n' <<<"$keep"))
mkdir -p "$out/empty"
n=0
for p in $hide; do
  while read -r f; do
    case $f in
      /usr/lib/python3/dist-packages/*/__init__.py)
        mount --bind "$out/empty" "$(dirname "$f")" 2>/dev/null && n=$((n + 1)) ;;
      /usr/bin/*|/usr/sbin/*|/usr/include/*|*.so|*.so.*|*.a|*.pc)
        [ -f "$f" ] && mount --bind /dev/null "$(readlink -f "$f")" 2>/dev/null && n=$((n + 1)) ;;
    esac
  done < <(dpkg -L "$p" 2>/dev/null | grep -E '^/usr/(bin|sbin|include|lib)/' |
           grep -Ev '^/usr/lib/python3/dist-packages/.*/.+/' )
done
echo "hid $n files of: $(echo $hide)"
[ -s /usr/include/cmocka.h ] && fail "cmocka.h still visible"
command -v valgrind >/dev/null && [ -s "$(command -v valgrind)" ] && fail "valgrind still visible"

# the check itself sees them gone, and the build group is whole
NO_DEPS=1 ./mk/deps.sh build || fail "the build group misses a package"
NO_DEPS=1 ./mk/deps.sh test 2>"$out/e" && fail "the test group is complete with its packages hidden"
grep -q "libcmocka-dev" "$out/e" || { fail "the test check does not name libcmocka-dev"; cat "$out/e"; }

# make NO_DEPS=1 run, from nothing: builds, then plays the demo scenario
unset MAKEFLAGS MFLAGS MAKELEVEL
export QIKI_LOG_DIR=$out/logs
make --no-print-directory NO_DEPS=1 B="$out/b" -j2 run RUN_ARGS="-i $inst -q" >"$out/run.log" 2>&1 ||
  { fail "make NO_DEPS=1 run with only the build packages: exit $?"; tail -20 "$out/run.log"; }
grep -q "cycles" "$out/run.log" || { fail "no summary from the run"; tail -20 "$out/run.log"; }
[ -e "$out/b/.deps-test" ] && fail "make run checked the test packages"

# and the tests stop at the check, naming what to install
make --no-print-directory NO_DEPS=1 B="$out/b" tests >"$out/t.log" 2>&1 && fail "make NO_DEPS=1 tests built without cmocka"
# (the tracer's check may come first: it names clang and bpftool instead)
grep -Eq "apt-get install --no-install-recommends .*(libcmocka-dev|bpftool)" "$out/t.log" ||
  { fail "make NO_DEPS=1 tests does not give the apt line"; tail -5 "$out/t.log"; }
[ "$fails" = 0 ] && echo "nodeps: all passed" || echo "nodeps: $fails failed"
[ "$fails" = 0 ]
