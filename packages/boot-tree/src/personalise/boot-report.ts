/**
 * "Userspace up": a oneshot systemd unit in the node's root that, once multi-user.target is reached,
 * POSTs the board serial to brambled (`serial=…` to http://SERVER:PORT/boot/up). brambled only marks
 * a timestamp on the node whose serial and source address both match: no new trust, no control.
 */

import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';

export const BOOT_REPORT_UNIT = 'bramble-boot-report.service';
export const BOOT_REPORT_SCRIPT = '/usr/local/lib/bramble/boot-report';

/**
 * The reporting script: serial from the device tree (16 hex digits; brambled keeps the last 8),
 * else /proc/cpuinfo; curl, else wget; five tries; never fails the boot.
 */
export function bootReportScript(): string {
  return `#!/bin/sh
# Installed by Bramble: tells brambled this node reached multi-user.target. brambled only marks a
# timestamp for the node whose serial and address match. Usage: boot-report URL [SERIAL_FILE]
url="$1"
serial_file="\${2:-/proc/device-tree/serial-number}"
serial=$(tr -d '\\000' < "$serial_file" 2>/dev/null)
[ -n "$serial" ] || serial=$(sed -n 's/^Serial[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null)
[ -n "$url" ] && [ -n "$serial" ] || exit 0
tries=0
while [ "$tries" -lt 5 ]; do
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 5 --data "serial=$serial" "$url" >/dev/null && exit 0
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 5 -O /dev/null --post-data "serial=$serial" "$url" && exit 0
  else
    exit 0
  fi
  tries=$((tries + 1))
  sleep 3
done
exit 0
`;
}

/** The unit: wanted by multi-user.target and ordered after it, so it runs once the target is reached. */
export function bootReportUnit(url: string): string {
  if (!/^http:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/[A-Za-z0-9/_-]*$/.test(url))
    throw new BootTreeError(
      'INVALID_INPUT',
      `boot report URL must be a plain http://HOST:PORT/path URL, got '${url}'`,
    );
  return `[Unit]
Description=Tell brambled this node reached multi-user.target (Bramble)
After=multi-user.target network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=${BOOT_REPORT_SCRIPT} ${url}

[Install]
WantedBy=multi-user.target
`;
}

/** Install and enable the unit in a node's root. Returns the changed paths. */
export async function installBootReport(root: NodeTree | string, url: string): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const unit = bootReportUnit(url);
  const changed: string[] = [];
  if (await tree.writeFile(BOOT_REPORT_SCRIPT, bootReportScript(), { mode: 0o755 }))
    changed.push(BOOT_REPORT_SCRIPT);
  const unitPath = `/etc/systemd/system/${BOOT_REPORT_UNIT}`;
  if (await tree.writeFile(unitPath, unit)) changed.push(unitPath);
  const wants = `/etc/systemd/system/multi-user.target.wants/${BOOT_REPORT_UNIT}`;
  if (await tree.symlink(unitPath, wants)) changed.push(wants);
  return changed;
}
