import type { EmulationReport } from './emulate.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The report as text: verdict, how it booted, each milestone with its time, and the console tail on failure. */
export function formatEmulationReport(report: EmulationReport): string {
  const lines: string[] = [];
  const who = report.hostname ? `${report.hostname} (${report.node})` : report.node;
  lines.push(
    report.verdict === 'login'
      ? `${who}: REACHED LOGIN in ${seconds(report.loginAfterMs ?? report.elapsedMs)}`
      : `${who}: DID NOT BOOT (${report.verdict}): ${report.reason ?? ''}`,
  );
  const kernel = report.kernel;
  lines.push(
    `  kernel: ${kernel.file} (${kernel.compression === 'gzip' ? 'gzip, ' : ''}arm64 Image ${(kernel.imageBytes / 1048576).toFixed(1)} MiB${kernel.pageSizeKiB ? `, ${kernel.pageSizeKiB}K pages` : ''})`,
  );
  if (kernel.version) lines.push(`    ${kernel.version}`);
  lines.push(
    `  boot: ${report.mode === 'uboot' ? 'U-Boot over the network' : 'direct kernel boot'}: ${report.modeWhy}`,
  );
  lines.push(`  network: ${report.network}, MAC ${report.mac}`);
  if (report.mode === 'kernel' && report.bootargs) lines.push(`  bootargs: ${report.bootargs}`);
  for (const note of report.notes) lines.push(`  note: ${note}`);
  for (const event of report.events) lines.push(`  ${seconds(event.atMs).padStart(8)}  ${event.text}`);
  if (report.consoleTail) {
    lines.push('  --- console tail ---');
    for (const line of report.consoleTail.split(/\r?\n/).slice(-30)) lines.push(`  | ${line}`);
  }
  return `${lines.join('\n')}\n`;
}
