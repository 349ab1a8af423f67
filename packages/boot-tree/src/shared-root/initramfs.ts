/**
 * The initramfs step of a shared root: an initramfs-tools `nfs-bottom` script (and a hook that puts what
 * it needs into the initramfs), installed into the image's base. With `bramble.base=` on the kernel
 * command line it moves the read-only base the initramfs `nfs` script mounted at ${rootmnt} to
 * /run/bramble/base, mounts the node's layer export at /run/bramble/layer, its upper (the layer's
 * upper.ext4, loop-mounted, or a tmpfs) at /run/bramble/upper, assembles overlayfs (lower = base,
 * upper/work on the upper) at ${rootmnt}, and copies the node's identity into it when its stamp changed.
 * initramfs-tools moves /run into the new root, so the three mounts stay visible after switch_root.
 * Without `bramble.base=` it does nothing (copy-mode nodes boot the same image unchanged).
 *
 * Two ways into an initramfs, one script: Bramble appends it (with BOOT_SCRIPT and the kernel modules
 * it needs) to the image's own initramfs as an uncompressed cpio, selected by `boot=bramble` on the
 * cmdline (boot-archive.ts, no root needed); or the script and hook below go into the base's
 * /etc/initramfs-tools for an initramfs regenerated with update-initramfs. Tools the initramfs lacks
 * (klibc has no cp, rm or loop mount) are run from the base through its own dynamic loader.
 */
import { NodeTree } from '../node-tree.js';

/** Where the script and hook go in the base (the administrator's initramfs-tools directories). */
export const OVERLAY_SCRIPT_PATH = '/etc/initramfs-tools/scripts/nfs-bottom/bramble-overlay';
export const OVERLAY_HOOK_PATH = '/etc/initramfs-tools/hooks/bramble-overlay';

/** POSIX sh. Functions only when sourced with BRAMBLE_OVERLAY_LIB=1 (tests call them one by one). */
export const OVERLAY_SCRIPT = `#!/bin/sh
# bramble-overlay: shared base + per-node overlay root (installed by Bramble, @bramble/boot-tree).
# Kernel command line: bramble.base=SERVER:/BASE bramble.layer=SERVER:/LAYER bramble.upper=volume|tmpfs
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac

BRAMBLE_RUN="\${BRAMBLE_RUN:-/run/bramble}"

# bramble_param NAME: the value of bramble.NAME= ($BRAMBLE_CMDLINE or /proc/cmdline); status 1 if absent.
bramble_param() {
  for tok in \${BRAMBLE_CMDLINE:-$(cat /proc/cmdline)}; do
    case "$tok" in "bramble.$1="*) echo "\${tok#bramble.$1=}"; return 0 ;; esac
  done
  return 1
}

# bramble_nfs_opts: NFS mount options for the layer, from nfsroot=...,vers=N (v3: nolock, no statd).
bramble_nfs_opts() {
  vers=3
  for tok in \${BRAMBLE_CMDLINE:-$(cat /proc/cmdline)}; do
    case "$tok" in nfsroot=*vers=*) vers="\${tok##*vers=}"; vers="\${vers%%,*}" ;; esac
  done
  if [ "$vers" = 3 ]; then echo "vers=3,nolock"; else echo "vers=$vers"; fi
}

# bramble_is_mounted DIR
bramble_is_mounted() {
  while read -r _dev mnt _rest; do [ "$mnt" = "$1" ] && return 0; done < /proc/mounts
  return 1
}

# bramble_mount_src SPEC DIR OPTS: SERVER:/PATH over NFS, or a local /PATH bound (read-only with ro).
bramble_mount_src() {
  mkdir -p "$2" || return 1
  case "$1" in
    /*)
      mount -o bind "$1" "$2" || return 1
      case ",$3," in *,ro,*) mount -o remount,bind,ro "$2" || return 1 ;; esac
      ;;
    *:/*)
      if command -v nfsmount >/dev/null 2>&1; then nfsmount -o "$3" "$1" "$2"; else mount -t nfs -o "$3" "$1" "$2"; fi
      ;;
    *) echo "bramble: '$1' is neither SERVER:/PATH nor /PATH" >&2; return 1 ;;
  esac
}

# bramble_base_exec TOOL ARGS...: run the base's own TOOL through the base's dynamic loader (the
# initramfs may have only klibc, which has no cp, rm or loop mount). Needs the base at $BRAMBLE_RUN/base.
bramble_base_exec() {
  b="$BRAMBLE_RUN/base"; tool=""; loader=""; libs=""
  for d in /usr/bin /bin /usr/sbin /sbin; do
    if [ -x "$b$d/$1" ]; then tool="$b$d/$1"; break; fi
  done
  for l in "$b"/lib/ld-linux*.so.* "$b"/usr/lib/ld-linux*.so.* "$b"/lib64/ld-linux*.so.*; do
    if [ -x "$l" ]; then loader="$l"; break; fi
  done
  if [ -z "$tool" ] || [ -z "$loader" ]; then echo "bramble: no $1 in the initramfs or the base" >&2; return 127; fi
  for d in "$b"/usr/lib/*-linux-gnu* "$b"/lib/*-linux-gnu*; do
    if [ -d "$d" ]; then libs="$libs\${libs:+:}$d"; fi
  done
  shift
  "$loader" --library-path "$libs" "$tool" "$@"
}

# bramble_tool TOOL ARGS...: the initramfs's TOOL when it has one, else the base's.
bramble_tool() {
  if command -v "$1" >/dev/null 2>&1; then "$@"; else bramble_base_exec "$@"; fi
}

# bramble_mount_loop FILE DIR: FILE (ext4) loop-mounted at DIR: util-linux mount when the initramfs has
# it, else the base's (klibc mount has no loop option), else whatever mount the initramfs has (busybox).
bramble_mount_loop() {
  case "$(mount -V 2>&1)" in
    *util-linux*) mount -t ext4 -o loop,noatime "$1" "$2" ;;
    *) bramble_base_exec mount -t ext4 -o loop,noatime "$1" "$2" || mount -t ext4 -o loop,noatime "$1" "$2" ;;
  esac
}

# bramble_load_modules: the kernel modules Bramble appended to the initramfs (/bramble/modules/KVER,
# loaded in the order of its load list) that are neither loaded nor loadable by the initramfs itself.
bramble_load_modules() {
  dir="\${BRAMBLE_MODULES:-/bramble/modules}/$(uname -r)"
  [ -f "$dir/load" ] || return 0
  insmod_cmd=insmod
  if [ -x /bramble/bin/insmod ]; then insmod_cmd=/bramble/bin/insmod; fi
  while read -r rel; do
    [ -n "$rel" ] || continue
    name="\${rel##*/}"; name="\${name%%.ko*}"
    mod=$(IFS=-; set -f; set -- $name; IFS=_; echo "$*")
    [ -d "/sys/module/$mod" ] && continue
    modprobe -q "$name" 2>/dev/null && continue
    "$insmod_cmd" "$dir/$rel" || echo "bramble: cannot load $rel" >&2
  done < "$dir/load"
}

# bramble_assemble LOWER LAYERDIR volume|tmpfs TARGET: mount the upper and the overlay at TARGET.
bramble_assemble() {
  up="$BRAMBLE_RUN/upper"
  mkdir -p "$up" || return 1
  case "$3" in
    tmpfs) mount -t tmpfs -o mode=0755 bramble-upper "$up" || return 1 ;;
    volume)
      if [ ! -f "$2/upper.ext4" ]; then echo "bramble: $2/upper.ext4 missing" >&2; return 1; fi
      bramble_mount_loop "$2/upper.ext4" "$up" || return 1
      ;;
    *) echo "bramble: bramble.upper='$3' is not volume or tmpfs" >&2; return 1 ;;
  esac
  mkdir -p "$up/upper" "$up/work" || return 1
  mount -t overlay -o "lowerdir=$1,upperdir=$up/upper,workdir=$up/work" bramble-root "$4"
}

# bramble_apply_identity LAYERDIR TARGET: copy identity/ in and remove identity.removed paths when the
# layer's identity.stamp differs from the one TARGET recorded (first boot, re-provisioning, tmpfs upper).
bramble_apply_identity() {
  [ -f "$1/identity.stamp" ] || return 0
  want=$(cat "$1/identity.stamp")
  have=$(cat "$2/var/lib/bramble/identity.stamp" 2>/dev/null || true)
  [ "$want" = "$have" ] && return 0
  if [ -d "$1/identity" ]; then bramble_tool cp -a "$1/identity/." "$2/" || return 1; fi
  if [ -f "$1/identity.removed" ]; then
    while IFS= read -r p; do
      case "$p" in /*) ;; *) continue ;; esac
      case "$p/" in */../*) continue ;; esac
      bramble_tool rm -rf "$2$p"
    done < "$1/identity.removed"
  fi
  mkdir -p "$2/var/lib/bramble" && echo "$want" > "$2/var/lib/bramble/identity.stamp"
}

bramble_fail() {
  echo "bramble: $1" >&2
  if command -v panic >/dev/null 2>&1; then panic "bramble: $1"; fi
  return 1
}

bramble_main() {
  base=$(bramble_param base) || return 0
  # Once per boot: the boot=bramble script and an nfs-bottom copy of this script may both be present.
  bramble_is_mounted "$BRAMBLE_RUN/base" && return 0
  bramble_load_modules
  layer=$(bramble_param layer) || { bramble_fail "bramble.base= without bramble.layer="; return 1; }
  kind=$(bramble_param upper) || kind=volume
  opts=$(bramble_nfs_opts)
  lower="$BRAMBLE_RUN/base"
  mkdir -p "$lower" || return 1
  if bramble_is_mounted "$rootmnt"; then
    mount -o move "$rootmnt" "$lower" || { bramble_fail "cannot move the base from $rootmnt"; return 1; }
  else
    bramble_mount_src "$base" "$lower" "ro,$opts" || { bramble_fail "cannot mount base $base"; return 1; }
  fi
  bramble_mount_src "$layer" "$BRAMBLE_RUN/layer" "rw,$opts" || { bramble_fail "cannot mount layer $layer"; return 1; }
  bramble_assemble "$lower" "$BRAMBLE_RUN/layer" "$kind" "$rootmnt" || { bramble_fail "cannot assemble the overlay"; return 1; }
  bramble_apply_identity "$BRAMBLE_RUN/layer" "$rootmnt" || { bramble_fail "cannot apply the node identity"; return 1; }
}

if [ "\${BRAMBLE_OVERLAY_LIB:-0}" != 1 ]; then
  bramble_main
fi
`;

/** `boot=bramble` on the kernel command line makes initramfs-tools' init source /scripts/bramble. */
export const BOOT_SCRIPT_NAME = 'bramble';
/** Where the overlay script goes in an initramfs Bramble appends to (sourced by the boot script). */
export const INITRAMFS_OVERLAY_PATH = 'scripts/bramble-overlay';

/**
 * initramfs-tools boot script (`/scripts/bramble`, chosen by `boot=bramble`): init has sourced
 * /scripts/nfs already, so mountroot mounts the base over NFS as `boot=nfs` would, then assembles the
 * node's overlay with OVERLAY_SCRIPT's functions. mount_top/premount/bottom stay the nfs script's.
 */
export const BOOT_SCRIPT = `# /scripts/bramble: shared base + per-node overlay root (boot=bramble; appended by Bramble).
BRAMBLE_OVERLAY_LIB=1
. /${INITRAMFS_OVERLAY_PATH}
mountroot() {
  nfs_mount_root
  bramble_main || panic "bramble: cannot assemble the node's root"
}
`;

/** initramfs-tools hook: the modules and util-linux tools the script needs (klibc mount has no loop). */
export const OVERLAY_HOOK = `#!/bin/sh
# bramble-overlay hook (installed by Bramble): modules and tools for scripts/nfs-bottom/bramble-overlay.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules overlay loop ext4 nfs
for tool in /bin/mount /usr/bin/mount /sbin/losetup /usr/sbin/losetup /bin/cp /usr/bin/cp /bin/rm /usr/bin/rm; do
  if [ -x "$tool" ]; then copy_exec "$tool" /bin; fi
done
`;

/**
 * Install the overlay script and hook into an image's base root (through NodeTree: symlinks in the
 * image resolve inside it). Returns the paths that changed (none on a re-run).
 */
export async function installOverlayScript(baseRoot: NodeTree | string): Promise<string[]> {
  const tree = await NodeTree.from(baseRoot);
  const changed: string[] = [];
  const opts = { mode: 0o755, uid: 0, gid: 0 };
  if (await tree.writeFile(OVERLAY_SCRIPT_PATH, OVERLAY_SCRIPT, opts)) changed.push(OVERLAY_SCRIPT_PATH);
  if (await tree.writeFile(OVERLAY_HOOK_PATH, OVERLAY_HOOK, opts)) changed.push(OVERLAY_HOOK_PATH);
  return changed;
}
