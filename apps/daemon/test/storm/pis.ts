/**
 * The virtual Pis of a storm, in their own network namespace: all powered on at once, DHCP broadcast
 * on the namespace's interface (port 68, as real Pis), then TFTP from the server the offer names.
 * Prints `RESULT <json>`.
 *   tsx pis.ts '<json StormPisOptions>'
 */
import { bootStorm, type PiModel } from '@bramble/virtual-pi';

export interface StormPisOptions {
  serials: string[];
  models: PiModel[];
  interface: string;
  /** Per-Pi limit, ms. */
  timeoutMs: number;
  /** Network-boot restarts a Pi 4/5 makes after a DHCP sequence without an offer. */
  restarts: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as StormPisOptions;
const started = Date.now();
const storm = await bootStorm({
  count: options.serials.length,
  serials: options.serials,
  models: options.models,
  dhcp: {
    server: '255.255.255.255',
    clientPort: 68,
    interface: options.interface,
    restarts: options.restarts,
  },
  timeoutMs: options.timeoutMs,
});
const result = {
  startedAt: started,
  durationMs: storm.durationMs,
  booted: storm.booted,
  failed: storm.failed,
  byModel: storm.byModel,
  reasons: storm.reasons,
  bootMs: storm.bootMs,
  totalBytes: storm.totalBytes,
  pis: storm.reports.map((report) => ({
    serial: report.serial,
    model: report.model,
    verdict: report.verdict,
    durationMs: report.durationMs,
    discovers: report.dhcp?.discovers ?? 0,
    ...(report.reason ? { reason: report.reason } : {}),
  })),
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
