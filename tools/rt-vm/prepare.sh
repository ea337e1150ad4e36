#!/usr/bin/env bash
# Fetches Debian's PREEMPT_RT kernel (linux-image-rt-amd64) with
# `apt-get download` and unpacks it with `dpkg -x` under build/rt-vm/kernel
# (nothing is installed in /boot), then builds a busybox initramfs that
# loads the 9p, virtio and overlay modules, mounts the host's / read-only
# over 9p under a tmpfs overlay and switch_roots into it (tools/rt-vm/init).
# Both are cached: a second call does nothing.
# usage: tools/rt-vm/prepare.sh [BUILD_DIR]
set -euo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$B/rt-vm
mkdir -p "$out"
out=$(cd "$out" && pwd)
kdir=$out/kernel

if [ ! -e "$kdir/.ok" ]; then
  # the metapackage names the current image package; take that one
  pkg=$(apt-cache depends linux-image-rt-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9].*-rt-amd64/ { print $2; exit }')
  if [ -z "$pkg" ]; then
    echo "rt-vm: apt knows no linux-image-rt-amd64: run 'apt-get update' (Debian bookworm or later)" >&2
    exit 1
  fi
  echo "rt-vm: fetching $pkg (apt-get download; nothing is installed)"
  rm -rf "$kdir" && mkdir -p "$kdir/deb"
  (cd "$kdir/deb" && apt-get download -q "$pkg") || {
    echo "rt-vm: apt-get download $pkg failed; is the network to Debian up?" >&2; exit 1; }
  dpkg -x "$kdir"/deb/*.deb "$kdir/root"
  vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-* | head -n1)
  ln -sf "$vmlinuz" "$kdir/vmlinuz"
  basename "$vmlinuz" | sed 's/^vmlinuz-//' > "$kdir/release"
  rm -rf "$kdir/deb"
  touch "$kdir/.ok"
fi
rel=$(cat "$kdir/release")
mods=$kdir/root/lib/modules/$rel

initrd=$out/initrd.cpio.gz
if [ ! -e "$initrd" ] || [ "$here/init" -nt "$initrd" ] || [ "$0" -nt "$initrd" ]; then
  bb=$(command -v busybox || true)
  if [ -z "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
    [ -x /bin/busybox ] && bb=/bin/busybox
  fi
  [ -x "$bb" ] || { echo "rt-vm: busybox (busybox-static) is missing: make deps-rt" >&2; exit 1; }
  stage=$out/initrd.d
  rm -rf "$stage" && mkdir -p "$stage"/{bin,dev,proc,sys,lower,upper,newroot,lib/modules}
  cp "$bb" "$stage/bin/busybox"
  for t in sh mount umount mkdir insmod switch_root poweroff cat echo sleep ls; do
    ln -s busybox "$stage/bin/$t"
  done
  # the modules and what they depend on (each .ko's own depends= field:
  # the package has no modules.dep, and depmod is not needed), deps first
  want="virtio_pci 9pnet_virtio 9p overlay"
  order=()
  add() {	# module name
    local name=$1 path dep seen
    path=$(cd "$mods" && find kernel \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -n1)
    [ -n "$path" ] || return 0		# built in
    for seen in "${order[@]:-}"; do [ "$seen" = "$path" ] && return 0; done
    for dep in $(strings -a "$mods/$path" | sed -n 's/^depends=//p' | tr , ' '); do
      add "$dep"
    done
    order+=("$path")
  }
  for m in $want; do add "$m"; done
  : > "$stage/lib/modules/order"
  for p in "${order[@]}"; do
    f=$(basename "$p")
    case $f in
      *.ko.xz) xz -dc "$mods/$p" > "$stage/lib/modules/${f%.xz}"; f=${f%.xz} ;;
      *.ko.zst) zstd -qdc "$mods/$p" > "$stage/lib/modules/${f%.zst}"; f=${f%.zst} ;;
      *) cp "$mods/$p" "$stage/lib/modules/$f" ;;
    esac
    echo "$f" >> "$stage/lib/modules/order"
  done
  cp "$here/init" "$stage/init" && chmod 755 "$stage/init"
  (cd "$stage" && find . | "$bb" cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  echo "rt-vm: initramfs $initrd (kernel $rel; modules: $(tr '\n' ' ' < "$stage/lib/modules/order"))"
fi
