import { PI_MODELS } from '@bramble/pi';
import { type Command, Option } from 'commander';
import { commandContext, manifestFor } from '../context.js';
import { type EmulateFlags, emulateBoot } from './doctor/emulate.js';
import { printFindings, staticChecks } from './doctor/findings.js';
import { type SimulateOptions, simulateBoot } from './doctor/simulate.js';
import { addDiscoverOptions, runDiscover, wantsDiscover } from './doctor-discover.js';

interface DoctorOptions extends Omit<SimulateOptions, 'timeout'>, Omit<EmulateFlags, 'timeout'> {
  /** Per mode default: --simulate 60 s, --emulate 10 min. */
  timeout?: number;
  simulate?: boolean;
  emulate?: string;
  dhcpConfig?: string[];
  interface?: string;
}

export function register(program: Command): void {
  const doctor = program
    .command('doctor')
    .description(
      'check the setup; with --simulate, boot a virtual Pi against the configured server; with --emulate NODE, boot the node in QEMU',
    )
    .option(
      '--simulate',
      'boot a virtual Pi (TFTP, and DHCP with --dhcp) and print its boot report; without a manifest it broadcasts DHCPDISCOVER and follows the offers',
    )
    .addOption(new Option('--model <model>', 'virtual Pi model').choices([...PI_MODELS]))
    .option('--serial <serial>', 'serial of the virtual Pi (default: a node of that model)')
    .option('--server <addr:port>', 'TFTP server to boot from (default: the manifest)')
    .option('--dhcp <addr>', 'also do the DHCP exchange with this server (needs port 67/68: root)')
    .option('--timeout <ms>', 'give up after this long (default 60000; with --emulate 600000)', (value) =>
      Number(value),
    )
    .option(
      '--emulate <node>',
      "boot the node's real tree in qemu-system-aarch64 -M virt on the boot LAN (generic arm64 kernels only); exit 0 at its login prompt",
    )
    .option(
      '--bridge <bridge>',
      'with --emulate: the boot LAN bridge to put the VM on (a tap as root, else qemu-bridge-helper)',
    )
    .option('--netns <ns>', 'with --emulate: the network namespace holding --bridge (root)')
    .addOption(
      new Option(
        '--boot <mode>',
        "with --emulate: U-Boot over the network, or QEMU loading the tree's kernel",
      )
        .choices(['auto', 'uboot', 'kernel'])
        .default('auto'),
    )
    .option('--memory <MiB>', 'with --emulate: VM memory', (value) => Number(value))
    .option('--console', "with --emulate: copy the node's serial console to stderr")
    .option('--console-log <file>', "with --emulate: append the node's serial console to this file")
    .option('--keep-running', 'with --emulate: after the login prompt keep the VM running until Ctrl-C')
    .option(
      '--dhcp-config <file...>',
      'DHCP server config(s) to check option 43 in (default: /etc/dnsmasq.conf, /etc/dnsmasq.d/*.conf, dhcpd.conf, kea-dhcp4.conf)',
    )
    .addHelpText(
      'after',
      `
Examples:
  bramble doctor
  bramble doctor --dhcp-config /etc/dnsmasq.d/bramble.conf
  bramble doctor --simulate --model pi4
  bramble doctor --simulate --model pi5 --serial 9ffefdef --server 127.0.0.1:6969 --json
  bramble doctor --simulate --interface eth0 --model pi3b   (no manifest needed: asks the LAN's DHCP servers)
  sudo bramble doctor --emulate rpi-k8s-01 --bridge br0 --keep-running

--emulate checks the node's kernel first (the one config.txt picks): an arm64 Image, plain or gzip, with
-M virt's generic PCIe host, PL011, GIC and timer built in. A Raspberry Pi OS kernel lacks the PCIe host:
exit 2 with KERNEL_PI_ONLY. MAC-named nodes boot through U-Boot (DHCP, then boot.scr.uimg, kernel,
initramfs and cmdline.txt over TFTP from the server); serial-named nodes, which U-Boot cannot present,
boot the tree's kernel directly (DHCP and the NFS root still over the LAN). Exit 0 at the login prompt,
1 when the node did not reach it within --timeout, 2 when it cannot be emulated.`,
    );
  addDiscoverOptions(doctor).action(async (options: DoctorOptions, cmd: Command) => {
    const { globalOptions, out } = commandContext(cmd);
    const simulateTimeout = options.timeout ?? 60_000;
    if (wantsDiscover({ ...options, timeout: simulateTimeout }, globalOptions))
      return runDiscover({ ...options, timeout: simulateTimeout }, globalOptions);
    const manifest = await manifestFor(globalOptions);
    if (options.emulate)
      return emulateBoot(globalOptions, out, manifest, options.emulate, {
        ...options,
        timeout: options.timeout ?? 600_000,
      });
    if (options.simulate)
      return simulateBoot(globalOptions, out, manifest, { ...options, timeout: simulateTimeout });
    const findings = await staticChecks(manifest, options.dhcpConfig);
    if (globalOptions.json) out.data(findings);
    else printFindings(out, findings);
    if (findings.some((finding) => !finding.ok)) process.exitCode = 1;
  });
}
