import { PI_MODELS } from '@bramble/pi';
import { type Command, Option } from 'commander';
import { commandContext, manifestFor } from '../context.js';
import { printFindings, staticChecks } from './doctor/findings.js';
import { type SimulateOptions, simulateBoot } from './doctor/simulate.js';
import { addDiscoverOptions, runDiscover, wantsDiscover } from './doctor-discover.js';

interface DoctorOptions extends SimulateOptions {
  simulate?: boolean;
  dhcpConfig?: string[];
  interface?: string;
}

export function register(program: Command): void {
  const doctor = program
    .command('doctor')
    .description('check the setup; with --simulate, boot a virtual Pi against the configured server')
    .option(
      '--simulate',
      'boot a virtual Pi (TFTP, and DHCP with --dhcp) and print its boot report; without a manifest it broadcasts DHCPDISCOVER and follows the offers',
    )
    .addOption(new Option('--model <model>', 'virtual Pi model').choices([...PI_MODELS]))
    .option('--serial <serial>', 'serial of the virtual Pi (default: a node of that model)')
    .option('--server <addr:port>', 'TFTP server to boot from (default: the manifest)')
    .option('--dhcp <addr>', 'also do the DHCP exchange with this server (needs port 67/68: root)')
    .option('--timeout <ms>', 'give up after this long', (value) => Number(value), 60_000)
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
  bramble doctor --simulate --interface eth0 --model pi3b   (no manifest needed: asks the LAN's DHCP servers)`,
    );
  addDiscoverOptions(doctor).action(async (options: DoctorOptions, cmd: Command) => {
    const { globalOptions, out } = commandContext(cmd);
    if (wantsDiscover(options, globalOptions)) return runDiscover(options, globalOptions);
    const manifest = await manifestFor(globalOptions);
    if (options.simulate) return simulateBoot(globalOptions, out, manifest, options);
    const findings = await staticChecks(manifest, options.dhcpConfig);
    if (globalOptions.json) out.data(findings);
    else printFindings(out, findings);
    if (findings.some((finding) => !finding.ok)) process.exitCode = 1;
  });
}
