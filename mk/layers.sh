#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The include directions between the rooms, and a check that every quoted
# include in the tree follows them (run by `make test`, or `make layers`).
# A room may include only the rooms its row names; a file belongs to the
# longest room its path starts with.  Includes of generated code
# ("qiki/v1/telemetry.pb-c.h", "rtlat.skel.h") name no room and pass.
# usage: mk/layers.sh [FILE...]   (default: every tracked or new .c/.h file)
set -uo pipefail
cd "$(dirname "$0")/.."

# room         may include (besides system headers)
table='
shm            shm
rt             shm rt
rt/config      shm rt rt/config
rt/agent       shm rt rt/config rt/agent
rt/sim         shm rt rt/config rt/sim
rt/hil         shm rt rt/config rt/hil
ctl            shm rt rt/config rt/agent rt/sim rt/hil ctl
proto          shm rt rt/config rt/agent rt/sim rt/hil proto
tools          shm rt rt/config rt/agent rt/sim rt/hil ctl proto tools
bench          shm rt rt/config rt/agent rt/sim rt/hil ctl proto tools bench
examples       shm rt rt/config rt/agent examples
tests          shm rt rt/config rt/agent rt/sim rt/hil ctl proto tools bench tests
'

declare -A allow
rooms=()
while read -r room deps; do
  [ -n "$room" ] || continue
  allow[$room]=" $deps "
  rooms+=("$room")
done <<<"$table"

room_of() {	# path -> the longest room it lies in, or nothing
  local best="" r
  for r in "${rooms[@]}"; do
    case $1 in "$r"/*) [ ${#r} -gt ${#best} ] && best=$r ;; esac
  done
  echo "$best"
}

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
fi

bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  from=$(room_of "$f")
  [ -n "$from" ] || continue
  while IFS=: read -r line inc; do
    to=$(room_of "$inc")
    [ -n "$to" ] || continue
    case ${allow[$from]} in *" $to "*) continue ;; esac
    echo "layers: $f:$line includes \"$inc\": $from/ may include only:${allow[$from]}(table in mk/layers.sh)" >&2
    bad=1
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
           sed 's/^\([0-9]*\):.*"\(.*\)".*/\1:\2/')
done
[ $bad -eq 0 ] && echo "layers: every include runs downwards (${#files[@]} files)"
exit $bad
