#!/usr/bin/env bash
# Installs the Debian programs Bramble's tests run against (real peers), when any is missing.
# chromium runs the status page test (apps/daemon, puppeteer-core, no browser download).
# gcc + libc6-dev build the tftp native pump (packages/tftp/native/pump.c) and the benchmark load generator;
# gcc-aarch64-linux-gnu + libc6-dev-arm64-cross cross-build the prebuilt pump of @bramble/tftp-linux-arm64-gnu.
# The real-boot test (apps/cli/test/real-boot.test.ts) builds a Debian arm64 image with debootstrap and
# qemu-user-static (binfmt_misc), and boots it with qemu-system-arm's qemu-system-aarch64 and u-boot-qemu;
# u-boot-tools (mkimage, dumpimage) checks Bramble's U-Boot script.
# cpio (-t, -i) is the oracle for the newc archives Bramble appends to an initramfs.
# Needs root (apt-get). Idempotent: a machine that has them all does nothing.
set -euo pipefail
PKGS=(
  tftp-hpa atftp curl busybox dnsmasq tftpd-hpa udhcpc tshark
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils
  mtools dosfstools e2fsprogs fdisk cpio xz-utils gzip zip unzip p7zip-full rsync attr acl libcap2-bin
  gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross libc6-dev iproute2 iputils-ping nftables isc-dhcp-server kea-dhcp4-server openssh-client openssh-server openssl util-linux systemd whois python3 time xfsprogs btrfs-progs
  chromium
  debootstrap qemu-user-static binfmt-support qemu-system-arm u-boot-qemu u-boot-tools ipxe-qemu
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers: all ${#PKGS[@]} test peers present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: missing ${missing[*]}; run this script as root (apt-get install)" >&2
  exit 1
fi
echo "install-peers: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts some of these as services on install; tests start their own instances on their own
# ports. Stop only the services this run just installed: a service that was already installed (a
# developer's own dnsmasq, rpcbind, ...) is left as it is.
for s in dnsmasq tftpd-hpa isc-dhcp-server kea-dhcp4-server nfs-ganesha rpcbind; do
  case " ${missing[*]} " in *" $s "*) ;; *) continue ;; esac
  echo "install-peers: stopping the $s service Debian just started"
  (command -v systemctl >/dev/null && systemctl stop "$s" 2>/dev/null) || service "$s" stop 2>/dev/null || true
done
