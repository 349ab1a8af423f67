#!/usr/bin/env bash
# Builds the small Bookworm-like sample image that `bramble demo` and the app tests use:
# an MBR disk (sfdisk) with a FAT32 boot partition (mkfs.vfat + mtools, no mounting) holding
# fake-but-named firmware files, and an ext4 root partition made with `mkfs.ext4 -d` from a tiny
# Bookworm-like /etc. Output: apps/cli/fixtures/sample-bookworm.img.xz (well under 1 MB).
# Needs: sfdisk, mkfs.vfat, mcopy, mmd, mkfs.ext4, xz. Runs as any user.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/apps/cli/fixtures/sample-bookworm.img.xz}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

DISK_ID=5e3da3c4          # MBR disk signature -> PARTUUID=5e3da3c4-01 / -02
BOOT_MIB=40               # FAT32 needs >= 65525 clusters: 40 MiB with 512-byte clusters
ROOT_MIB=8
START_MIB=4

# ---- boot partition contents ------------------------------------------------------------
boot="$work/boot"
mkdir -p "$boot/overlays"
fake() { # fake <file> <bytes>: deterministic named filler so sizes differ per file
  head -c "$2" /dev/zero | tr '\0' 'B' >"$1"
  printf 'bramble sample firmware: %s\n' "$(basename "$1")" >>"$1"
}
fake "$boot/bootcode.bin" 52480
fake "$boot/start.elf" 20480
fake "$boot/start4.elf" 24576
fake "$boot/fixup.dat" 7168
fake "$boot/fixup4.dat" 5120
fake "$boot/bcm2710-rpi-3-b.dtb" 4096
fake "$boot/bcm2710-rpi-3-b-plus.dtb" 4096
fake "$boot/bcm2711-rpi-4-b.dtb" 4608
fake "$boot/bcm2711-rpi-400.dtb" 4608
fake "$boot/bcm2712-rpi-5-b.dtb" 5120
fake "$boot/overlays/overlay_map.dtb" 1024
fake "$boot/overlays/vc4-kms-v3d.dtbo" 1024
fake "$boot/kernel8.img" 65536
fake "$boot/kernel_2712.img" 69632
fake "$boot/initramfs8" 32768
fake "$boot/initramfs_2712" 32768
cat >"$boot/config.txt" <<'CFG'
# For more options and information see
# http://rptl.io/configtxt
# Some settings may impact device functionality. See link above for details

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load initramfs files, if found
auto_initramfs=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

# Don't have the firmware create an initial video= setting in cmdline.txt.
# Use the kernel's default instead.
disable_fw_kms_setup=1

# Run in 64-bit mode
arm_64bit=1

# Disable compensation for displays with overscan
disable_overscan=1

# Run as fast as firmware / board allows
arm_boost=1

[cm4]
# Enable host mode on the 2711 built-in XHCI USB controller.
otg_mode=1

[all]
CFG
printf 'console=serial0,115200 console=tty1 root=PARTUUID=%s-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n' "$DISK_ID" >"$boot/cmdline.txt"

# ---- root partition contents ------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{etc/ssh,boot/firmware,home/pi,root,usr/bin,usr/lib,var/lib,tmp,dev,proc,sys,run}
chmod 1777 "$root/tmp"
cat >"$root/etc/os-release" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
OS
echo raspberrypi >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters

127.0.1.1		raspberrypi
HOSTS
cat >"$root/etc/fstab" <<FSTAB
proc            /proc           proc    defaults          0       0
PARTUUID=$DISK_ID-01  /boot/firmware  vfat    defaults          0       2
PARTUUID=$DISK_ID-02  /               ext4    defaults,noatime  0       1
# a swapfile is not a swap partition, no line here; use  dphys-swapfile swap[on|off]  for that
FSTAB
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
pi:x:1000:1000:,,,:/home/pi:/bin/bash
PW
cat >"$root/etc/shadow" <<'SH'
root:*:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
bin:*:19700:0:99999:7:::
sys:*:19700:0:99999:7:::
nobody:*:19700:0:99999:7:::
sshd:!:19700::::::
pi:*:19700:0:99999:7:::
SH
chmod 640 "$root/etc/shadow"
cat >"$root/etc/group" <<'GR'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:pi
sudo:x:27:pi
shadow:x:42:
nogroup:x:65534:
pi:x:1000:
GR
printf '#!/bin/sh\necho "bramble sample image"\n' >"$root/usr/bin/hello"
chmod 755 "$root/usr/bin/hello"
ln -s ../usr/bin "$root/bin" 2>/dev/null || true
ln -s firmware/overlays "$root/boot/overlays"
printf 'Port 22\nPermitRootLogin prohibit-password\n' >"$root/etc/ssh/sshd_config"

# ---- partitions ---------------------------------------------------------------------------
bootimg="$work/boot.fat"
rootimg="$work/root.ext4"
truncate -s "${BOOT_MIB}M" "$bootimg"
mkfs.vfat -F 32 -s 1 -n bootfs -i "$DISK_ID" "$bootimg" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$bootimg" ::/overlays
(cd "$boot" && for f in *; do [ -f "$f" ] && mcopy -i "$bootimg" -m "$f" "::/$f"; done)
(cd "$boot/overlays" && for f in *; do mcopy -i "$bootimg" -m "$f" "::/overlays/$f"; done)
truncate -s "${ROOT_MIB}M" "$rootimg"
mkfs.ext4 -q -F -L rootfs -O ^huge_file -E root_owner=0:0 -U 6d1f6f2a-7c1e-4c33-9a8a-0b5e3da3c402 -d "$root" "$rootimg"

disk="$work/sample.img"
total=$((START_MIB + BOOT_MIB + ROOT_MIB + 1))
truncate -s "${total}M" "$disk"
sfdisk -q "$disk" <<SF
label: dos
label-id: 0x$DISK_ID
unit: sectors

start=$((START_MIB * 2048)), size=$((BOOT_MIB * 2048)), type=c
start=$(((START_MIB + BOOT_MIB) * 2048)), size=$((ROOT_MIB * 2048)), type=83
SF
dd if="$bootimg" of="$disk" bs=1M seek="$START_MIB" conv=notrunc,sparse status=none
dd if="$rootimg" of="$disk" bs=1M seek=$((START_MIB + BOOT_MIB)) conv=notrunc,sparse status=none

mkdir -p "$(dirname "$out")"
xz -9 -T1 -c "$disk" >"$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
