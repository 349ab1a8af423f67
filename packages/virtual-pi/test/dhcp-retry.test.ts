/**
 * The firmware's DHCP retries (@bramble/pi boot.dhcpRetry): a Pi 4 EEPROM restarts network boot
 * after a DHCP sequence without a boot offer, the Pi 3 ROM halts. Against @bramble/dhcp's proxy
 * responder on loopback, which stays silent for the first DISCOVERs.
 */
import { createProxyDhcp } from '@bramble/dhcp';
import { dhcpAttempts, piModel } from '@bramble/pi';
import { freeUdpPort } from '@bramble/testkit';
import { createServer, fsHandler } from '@bramble/tftp';
import { afterEach, describe, expect, it } from 'vitest';
import { bootVirtualPi, formatReport, type PiModel } from '../src/index.js';
import { makeTftpTree } from './helpers/tree.js';

const serial = '7a1b2c3e';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** proxyDHCP that ignores the first `silent` DISCOVERs, and a TFTP server. */
async function server(clientPort: number, silent: number) {
  const tree = await makeTftpTree({ dirs: [serial] });
  cleanups.push(() => tree.cleanup());
  const tftp = createServer({ handler: fsHandler(tree.root) });
  const { port: tftpPort } = await tftp.listen({ address: '127.0.0.1', port: 0 });
  cleanups.push(() => tftp.close());
  let discovers = 0;
  const dhcp = createProxyDhcp({
    serverAddress: '127.0.0.1',
    listenAddress: '127.0.0.1',
    port: 0,
    pxePort: false,
    clientPort,
    broadcastAddress: '127.0.0.1',
    replyDelayMs: 0,
    decide: (client) => (client.messageType === 1 && ++discovers <= silent ? 'ignore' : 'boot'),
  });
  await dhcp.listen();
  cleanups.push(() => dhcp.close());
  return { tftpPort, dhcpPort: dhcp.address().port, discovers: () => discovers };
}

async function boot(model: PiModel, silent: number, restarts: number) {
  const clientPort = await freeUdpPort();
  const peer = await server(clientPort, silent);
  const report = await bootVirtualPi({
    model,
    serial,
    dhcp: {
      server: '127.0.0.1',
      port: peer.dhcpPort,
      clientPort,
      localAddress: '127.0.0.1',
      attempts: 2,
      retryIntervalMs: 200,
      restarts,
    },
    tftp: { port: peer.tftpPort },
    timeoutMs: 30_000,
  });
  return { report, discovers: peer.discovers() };
}

describe('virtual Pi DHCP retries', () => {
  it('the model table gives the firmware timings: Pi 4/5 12 DISCOVERs in 45 s then restart, Pi 3 5 then halt', () => {
    expect(piModel('pi4').boot.dhcpRetry).toEqual({
      requestTimeoutMs: 4_000,
      totalTimeoutMs: 45_000,
      afterTimeout: 'restart',
    });
    expect(dhcpAttempts(piModel('pi5').boot.dhcpRetry)).toBe(12);
    expect(dhcpAttempts(piModel('pi3b+').boot.dhcpRetry)).toBe(5);
    expect(piModel('pi3b').boot.dhcpRetry.afterTimeout).toBe('halt');
  });

  it('a Pi 4 restarts network boot after a sequence without an offer and boots on the next', async () => {
    const { report, discovers } = await boot('pi4', 3, 2);
    expect(report.verdict, formatReport(report)).toBe('would boot');
    expect(discovers).toBe(4);
    expect(report.dhcp?.discovers).toBe(4);
    const actions = report.steps.filter((step) => step.protocol === 'dhcp').map((step) => step.action);
    expect(actions).toEqual(['DISCOVER', 'DISCOVER', 'RESTART', 'DISCOVER', 'DISCOVER', 'OFFER']);
  });

  it('restarts are bounded: a Pi 5 gives up after 1 + restarts sequences', async () => {
    const { report, discovers } = await boot('pi5', 100, 1);
    expect(report.verdict).toBe('would not boot');
    expect(discovers).toBe(4);
    expect(report.reason).toMatch(/^no DHCP offer after 4 DHCPDISCOVERs/);
  });

  it('a Pi 3 ROM does not restart: it halts after its DISCOVERs', async () => {
    const { report, discovers } = await boot('pi3b+', 2, 5);
    expect(report.verdict).toBe('would not boot');
    expect(discovers).toBe(2);
    expect(report.warnings.join('\n')).toContain('halted until power-cycled');
  });
});
