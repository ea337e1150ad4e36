#!/usr/bin/env bash
# The HIL codec builds and links with no C library at all: for this host
# (-ffreestanding -nostdlib) and, when Debian's gcc-arm-none-eabi is there,
# for a Cortex-M4 (-mcpu=cortex-m4 -mthumb -Os), whose sizes it reports.
# A link with no library fails on any call the codec would make (memcpy too).
# usage: tests/hil/freestanding.sh BUILD_DIR
set -euo pipefail
B=${1:-build}
out=$B/hil-freestanding
mkdir -p "$out"
flags=(-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
       -ffreestanding -nostdlib -I.)
${CC:-cc} "${flags[@]}" -O2 -fno-pic -c rt/hil/wire.c -o "$out/wire-host.o"
${CC:-cc} -nostdlib -static -no-pie -Wl,-e,qk_hil_decode -Wl,--no-undefined \
  -o "$out/wire-host.elf" "$out/wire-host.o"
echo "hil codec: freestanding host build links with no library"
if command -v arm-none-eabi-gcc >/dev/null; then
  arm-none-eabi-gcc "${flags[@]}" -mcpu=cortex-m4 -mthumb -Os -c rt/hil/wire.c -o "$out/wire-cm4.o"
  arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -nostdlib -Wl,-e,qk_hil_decode -Wl,--no-undefined \
    -o "$out/wire-cm4.elf" "$out/wire-cm4.o"
  echo "hil codec: Cortex-M4 (-mcpu=cortex-m4 -mthumb -Os) sizes:"
  arm-none-eabi-size "$out/wire-cm4.o" | tee "$out/wire-cm4.size"
else
  echo "hil codec: arm-none-eabi-gcc not installed (mk/deps.sh installs gcc-arm-none-eabi): Cortex-M4 build skipped"
fi
