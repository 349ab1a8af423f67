#!/usr/bin/env bash
# Builds the real-boot test OS image: Debian arm64 (debootstrap, second stage through qemu-user-static +
# binfmt_misc) with systemd, openssh-server, nfs-common and Debian's generic arm64 kernel, and an
# initramfs (initramfs-tools, MODULES=netboot) that mounts an NFS root from the kernel cmdline
# (root=/dev/nfs nfsroot=SERVER:/PATH,vers=3 ip=dhcp). Packed exactly like a Raspberry Pi OS .img:
# MBR, FAT boot partition (cmdline.txt, config.txt, kernel8.img = the Debian kernel, initramfs8 = its
# initrd, dummy Pi firmware files) and an ext4 root whose fstab names both partitions by PARTUUID.
# Made with sfdisk, mkfs.vfat + mtools and mkfs.ext4 -d: no loop mounts.
#
# Prints the image's path on stdout (progress goes to stderr). The image is cached as
# $BRAMBLE_TEST_OS_CACHE/<recipe hash>.img (default /var/cache/bramble/test-os): a run whose recipe
# (this script, the suite, the mirror) is unchanged reuses it. Needs root (debootstrap, chroot).
set -euo pipefail

CACHE_DIR=${BRAMBLE_TEST_OS_CACHE:-/var/cache/bramble/test-os}
ARCH=arm64
# The Debian suite and mirror apt already uses on this machine (never another host).
detect_mirror() {
  local uri=''
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
      /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):.*\/debian\/?$/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  printf '%s\n' "${uri%/}"
}
MIRROR=${BRAMBLE_TEST_OS_MIRROR:-$(detect_mirror)}
SUITE=${BRAMBLE_TEST_OS_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
if [ -z "$MIRROR" ]; then
  echo "build-test-os-image: no Debian mirror found in /etc/apt/sources.list*" >&2
  exit 1
fi

INCLUDE=systemd,systemd-sysv,udev,dbus,openssh-server,netbase,nfs-common,initramfs-tools,kmod,iproute2,util-linux,procps,ifupdown,sudo,ca-certificates
HASH=$( { cat "$0"; echo "$ARCH $SUITE $MIRROR"; } | sha256sum | cut -c1-16)
IMAGE="$CACHE_DIR/test-os-$SUITE-$ARCH-$HASH.img"
if [ -f "$IMAGE" ]; then
  echo "build-test-os-image: cached $IMAGE" >&2
  printf '%s\n' "$IMAGE"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "build-test-os-image: needs root (debootstrap + chroot)" >&2
  exit 1
fi
for tool in debootstrap qemu-aarch64-static sfdisk mkfs.vfat mcopy mkfs.ext4 chroot; do
  command -v "$tool" >/dev/null || { echo "build-test-os-image: $tool missing (bash scripts/install-peers.sh)" >&2; exit 1; }
done

# binfmt_misc runs the arm64 second stage through qemu-user-static; F (fix binary) makes it work in a chroot.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
fi

mkdir -p "$CACHE_DIR"
WORK=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
ROOT="$WORK/root"
MOUNTS=()
unmount_all() {
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  MOUNTS=()
}
cleanup() {
  unmount_all
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "build-test-os-image: $*" >&2; }
in_root() { nice -n 10 chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
start=$(date +%s)

# Stage 1 (slow, cached on its own as a tar of the root): debootstrap + the kernel and its initramfs.
stage1() {
  log "debootstrap $SUITE $ARCH from $MIRROR into $ROOT"
  nice -n 10 debootstrap --arch="$ARCH" --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    return 1
  }
  log "debootstrap done in $(($(date +%s) - start)) s"
  for fs in proc sys dev; do
    mount --bind "/$fs" "$ROOT/$fs"
    MOUNTS+=("$ROOT/$fs")
  done
  # No daemon starts inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  # initramfs: network + NFS drivers only (MODULES=netboot), plus QEMU -M virt's virtio and e1000.
  sed -i 's/^MODULES=.*/MODULES=netboot/' "$ROOT/etc/initramfs-tools/initramfs.conf"
  sed -i 's/^COMPRESS=.*/COMPRESS=gzip/' "$ROOT/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' virtio_net virtio_pci virtio_mmio e1000 >>"$ROOT/etc/initramfs-tools/modules"
  log "installing linux-image-$ARCH (builds the initramfs)"
  in_root apt-get install -y -q --no-install-recommends "linux-image-$ARCH" >"$WORK/kernel.log" 2>&1 || {
    tail -n 30 "$WORK/kernel.log" >&2
    return 1
  }
  in_root apt-get clean
  rm -f "$ROOT/usr/sbin/policy-rc.d"
  unmount_all
  log "kernel installed after $(($(date +%s) - start)) s"
}
STAGE1_HASH=$( { declare -f stage1; echo "$INCLUDE $ARCH $SUITE $MIRROR"; } | sha256sum | cut -c1-16)
ROOTFS_TAR="$CACHE_DIR/rootfs-$SUITE-$ARCH-$STAGE1_HASH.tar"
if [ -f "$ROOTFS_TAR" ]; then
  log "reusing $ROOTFS_TAR"
  mkdir -p "$ROOT"
  tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOTFS_TAR"
else
  stage1
  tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
fi

# Shape the root like Raspberry Pi OS.
DISK_ID=$(printf '%08x' $((0x$(echo "$HASH" | cut -c1-8) | 0x10000000)))
echo raspberrypi >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' >"$ROOT/etc/hosts"
cat >"$ROOT/etc/fstab" <<EOF
proc            /proc           proc    defaults          0       0
PARTUUID=$DISK_ID-01  /boot/firmware  vfat    defaults          0       2
PARTUUID=$DISK_ID-02  /               ext4    defaults,noatime  0       1
EOF
mkdir -p "$ROOT/boot/firmware"
# Raspberry Pi OS ships no machine-id (each install makes its own on first boot) and no SSH host keys.
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id" "$ROOT"/etc/ssh/ssh_host_*
# The interface is configured by the kernel (ip=dhcp) before the root is mounted: nothing in the root
# may take it down again, so /etc/network/interfaces only knows lo.
printf 'auto lo\niface lo inet loopback\n' >"$ROOT/etc/network/interfaces"
# Like Raspberry Pi OS: root locked; a first user 'pi' (uid 1000, no password yet) with passwordless sudo,
# which `bramble node add --user NAME` renames.
in_root passwd -l root >/dev/null
in_root useradd -m -u 1000 -U -G sudo,users -s /bin/bash pi
in_root passwd -l pi >/dev/null
echo 'pi ALL=(ALL) NOPASSWD: ALL' >"$ROOT/etc/sudoers.d/010_pi-nopasswd"
chmod 440 "$ROOT/etc/sudoers.d/010_pi-nopasswd"

# TCG emulation on a loaded host is slow: udev's coldplug can take minutes, past systemd's 90 s device
# timeout (the serial getty on ttyAMA0 then never starts). Generous, bounded timeouts for the test machine.
mkdir -p "$ROOT/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStartSec=600s\nDefaultDeviceTimeoutSec=600s\n' >"$ROOT/etc/systemd/system.conf.d/bramble-test-os.conf"
mkdir -p "$ROOT/etc/systemd/system/dev-ttyAMA0.device.d"
printf '[Unit]\nJobRunningTimeoutSec=600s\n' >"$ROOT/etc/systemd/system/dev-ttyAMA0.device.d/bramble-test-os.conf"

KVER=$(basename "$(ls -d "$ROOT"/lib/modules/* | sort -V | tail -n 1)")
BOOT="$WORK/boot"
mkdir -p "$BOOT"
# U-Boot's booti wants an uncompressed Image; Debian's arm64 vmlinuz is gzip-compressed.
if gzip -t "$ROOT/boot/vmlinuz-$KVER" 2>/dev/null; then
  gzip -dc "$ROOT/boot/vmlinuz-$KVER" >"$BOOT/kernel8.img"
else
  cp "$ROOT/boot/vmlinuz-$KVER" "$BOOT/kernel8.img"
fi
cp "$ROOT/boot/initrd.img-$KVER" "$BOOT/initramfs8"
# The Pi console (serial0) plus the UART of QEMU -M virt (ttyAMA0), the last being /dev/console.
echo "console=serial0,115200 console=tty1 console=ttyAMA0,115200 root=PARTUUID=$DISK_ID-02 rootfstype=ext4 fsck.repair=yes rootwait" >"$BOOT/cmdline.txt"
cat >"$BOOT/config.txt" <<'EOF'
# Bramble test OS (Debian arm64 generic kernel), shaped like Raspberry Pi OS
arm_64bit=1
kernel=kernel8.img
initramfs initramfs8 followkernel
enable_uart=1
EOF
# Dummy Pi firmware files: the real boot in the test runs U-Boot in QEMU, not the Pi's GPU firmware.
for f in start4.elf fixup4.dat bootcode.bin bcm2711-rpi-4-b.dtb; do echo "bramble test-os dummy $f" >"$BOOT/$f"; done

# Partitions: FAT boot at 4 MiB (Pi OS layout), ext4 root after it.
BOOT_MIB=256
ROOT_USED_MIB=$(du -sm --apparent-size "$ROOT" | cut -f1)
ROOT_MIB=$((ROOT_USED_MIB + ROOT_USED_MIB / 4 + 256))
log "packing: boot ${BOOT_MIB} MiB, root ${ROOT_MIB} MiB (${ROOT_USED_MIB} MiB used)"
mkfs.vfat -n bootfs -C "$WORK/boot.fat" $((BOOT_MIB * 1024)) >/dev/null 2>&1
for f in "$BOOT"/*; do mcopy -i "$WORK/boot.fat" "$f" "::$(basename "$f")"; done
nice -n 10 mkfs.ext4 -q -L rootfs -d "$ROOT" "$WORK/root.ext4" "${ROOT_MIB}M" >/dev/null
TMP_IMAGE="$WORK/image.img"
truncate -s $((4 + BOOT_MIB + ROOT_MIB))M "$TMP_IMAGE"
sfdisk -q "$TMP_IMAGE" <<EOF
label: dos
label-id: 0x$DISK_ID
start=8192, size=$((BOOT_MIB * 2048)), type=c
start=$(((4 + BOOT_MIB) * 2048)), size=$((ROOT_MIB * 2048)), type=83
EOF
dd if="$WORK/boot.fat" of="$TMP_IMAGE" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$WORK/root.ext4" of="$TMP_IMAGE" bs=1M seek=$((4 + BOOT_MIB)) conv=notrunc,sparse status=none
mv "$TMP_IMAGE" "$IMAGE"
# The cache holds one image and one root tar: older recipes' files go.
for old in "$CACHE_DIR"/test-os-*.img "$CACHE_DIR"/rootfs-*.tar; do
  [ "$old" = "$IMAGE" ] || [ "$old" = "$ROOTFS_TAR" ] || rm -f "$old"
done
log "built $IMAGE (kernel $KVER) in $(($(date +%s) - start)) s"
printf '%s\n' "$IMAGE"
