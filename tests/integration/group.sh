#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# qiki run --group: the segment belongs to the group, mode 0660; a user in
# the group (not root) uses qikictl, reads and commands; a user outside it
# is refused, and told which group to join.  Throwaway users and a group,
# removed at exit.
# usage: tests/integration/group.sh BUILD_DIR
name=group
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null; then
  echo "SKIP: creating throwaway users needs root and useradd"; exit 0
fi
grp="qkg$$" uin="qkin$$" uout="qkout$$"
drop_users() {
  userdel "$uin" 2>/dev/null; userdel "$uout" 2>/dev/null; groupdel "$grp" 2>/dev/null
}
trap 'cleanup; drop_users' EXIT
groupadd "$grp" || { fail "groupadd"; finish; exit; }
useradd -M -N -g nogroup -G "$grp" -s /usr/sbin/nologin "$uin" || fail "useradd $uin"
useradd -M -N -g nogroup -s /usr/sbin/nologin "$uout" || fail "useradd $uout"
# qikictl where the throwaway users can run it whatever the tree's modes
cp "$bin/qikictl" "$out/qikictl"
chmod 755 "$out" "$out/qikictl"
as() {	# user qikictl-args...
  local u=$1; shift
  setpriv --reuid="$u" --regid=nogroup --init-groups env -i PATH=/usr/bin:/bin \
    "$out/qikictl" -i "$inst" "$@"
}

"$bin/qiki" run -i "$inst" -q --duration 30 --group "$grp" >"$out/run.log" 2>&1 &
qpid=$!
wait_idle || cat "$out/run.log"
seg=/dev/shm/qiki.$inst
[ "$(stat -c '%G %a' "$seg")" = "$grp 660" ] || fail "segment is $(stat -c '%U:%G %a' "$seg"), expected group $grp mode 660"

# a member: reads and commands
[ "$(as "$uin" state 2>"$out/e")" = IDLE ] || { fail "member $uin cannot read the state"; cat "$out/e"; }
as "$uin" setpoint 0.5 0 0 >/dev/null 2>"$out/e" || { fail "member $uin cannot send a setpoint"; cat "$out/e"; }
as "$uin" state ACTIVE >/dev/null 2>"$out/e" || { fail "member $uin cannot request ACTIVE"; cat "$out/e"; }
[ "$(ctl state)" = ACTIVE ] || fail "the member's request did not take effect"

# an outsider: refused, with the group named and how to join it
as "$uout" state >"$out/o" 2>"$out/e"
rc=$?
[ $rc = 2 ] || fail "outsider: exit $rc, expected 2"
grep -q "Permission denied" "$out/e" || fail "outsider: not a permission error"
grep -q "belongs to group '$grp' (mode 660): join the group" "$out/e" ||
  { fail "outsider: the group is not named"; cat "$out/e"; }
grep -q "usermod -aG $grp" "$out/e" || fail "outsider: not told how to join"
cat "$out/e"

# a group that does not exist: a clear refusal, nothing left behind
"$bin/qiki" run -i "$inst-x" -q --duration 1 --group "no-such-group-$$" >"$out/o" 2>"$out/e"
rc=$?
[ $rc = 2 ] || fail "unknown group: exit $rc, expected 2"
grep -q "no such group" "$out/e" || fail "unknown group: $(cat "$out/e")"
[ -e "/dev/shm/qiki.$inst-x" ] && { fail "unknown group left its segment"; rm -f "/dev/shm/qiki.$inst-x"; }

ctl state SHUTDOWN >/dev/null
wait $qpid || fail "qiki run exit $?"
finish
