/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The status page in a real browser: Debian's chromium driven by puppeteer-core against brambled
 * serving virtual Pis. Asserts what a person sees — the rows, a state changing live while a virtual
 * Pi boots, the failure in words, the adopt command, the waterfall — and keeps screenshots in
 * test/artifacts/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { bootVirtualPi } from '@bramble/virtual-pi';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, startDaemon } from '../src/index.js';
import { manifestYaml, tempDir, writeTree } from './helpers.js';

const artifacts = join(import.meta.dirname, 'artifacts');
const serials = { a: '2a2b3c01', b: '2a2b3c02', c: '2a2b3c03', stranger: '9ffefde1' };

function bootDir(serial: string, without: string[] = []): Record<string, Buffer | string> {
  const files: Record<string, Buffer | string> = {
    'start4.elf': Buffer.alloc(2_000_000, 1),
    'fixup4.dat': Buffer.alloc(5_000, 2),
    'config.txt': 'arm_64bit=1\n',
    'bcm2711-rpi-4-b.dtb': Buffer.alloc(50_000, 3),
    'cmdline.txt':
      'console=serial0,115200 root=/dev/nfs nfsroot=127.0.0.1:/srv/nfs/x,vers=3 rw ip=dhcp rootwait\n',
    'kernel8.img': Buffer.alloc(8_000_000, 4),
  };
  return Object.fromEntries(
    Object.entries(files)
      .filter(([name]) => !without.includes(name))
      .map(([name, content]) => [`tftp/${serial}/${name}`, content]),
  );
}

/** The state a person reads in a node's row. */
const rowState = (page: Page, node: string) =>
  page.$eval(`tr[data-node="${node}"] .state`, (el) => el.textContent ?? '');

describe('status page in chromium', () => {
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  let base: string;
  let tftpPort: number;

  beforeAll(async () => {
    const chromium = requireTool('chromium');
    await mkdir(artifacts, { recursive: true });
    const dir = await tempDir('page');
    await writeTree(dir, {
      ...bootDir(serials.a),
      ...bootDir(serials.b, ['bcm2711-rpi-4-b.dtb']),
      ...bootDir(serials.stranger),
      'bramble.yaml': manifestYaml({
        stateDir: dir,
        nodes: [
          { hostname: 'rpi-a', serial: serials.a },
          { hostname: 'rpi-b', serial: serials.b },
          { hostname: 'rpi-c', serial: serials.c, model: 'pi5' },
        ],
      }),
    });
    daemon = await startDaemon({
      manifestPath: join(dir, 'bramble.yaml'),
      watch: false,
      timeline: { stallMs: 3000 },
    });
    base = `http://127.0.0.1:${daemon.httpAddress()?.port}`;
    tftpPort = daemon.tftpAddress().port;
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 640 });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await daemon?.close({ deadlineMs: 1000 });
  });

  const bootPi = (serial: string) =>
    bootVirtualPi({
      model: 'pi4',
      serial,
      dhcp: false,
      tftp: { host: '127.0.0.1', port: tftpPort },
      timeoutMs: 60_000,
    });

  it('shows every node, then their states change live while virtual Pis boot', async () => {
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.querySelectorAll('#fleet tbody tr').length === 3, {
      timeout: 20_000,
    });
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', {
      timeout: 20_000,
    });
    const rows = await page.$$eval('#fleet tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent)),
    );
    expect(rows).toEqual([
      ['rpi-a', 'pi4', serials.a, '—', 'never seen'],
      ['rpi-b', 'pi4', serials.b, '—', 'never seen'],
      ['rpi-c', 'pi5', serials.c, '—', 'never seen'],
    ]);

    // No reload from here on: everything arrives over /events.
    const report = await bootPi(serials.a);
    expect(report.verdict).toBe('would boot');
    await page.waitForFunction(
      () => document.querySelector('tr[data-node="rpi-a"]')?.getAttribute('data-state') === 'up',
      { timeout: 20_000 },
    );
    expect(await rowState(page, 'rpi-a')).toBe('up');
    expect(await page.$eval('tr[data-node="rpi-a"] td:nth-child(4)', (td) => td.textContent)).toBe(
      '127.0.0.1',
    );

    // rpi-b lacks its dtb: it is seen booting, then (3 s of silence later) failed, with the reason.
    const broken = bootPi(serials.b);
    await page.waitForFunction(
      () => document.querySelector('tr[data-node="rpi-b"]')?.getAttribute('data-state') === 'booting',
      { timeout: 20_000 },
    );
    expect((await broken).verdict).toBe('would not boot');
    await page.waitForFunction(
      () => document.querySelector('tr[data-node="rpi-b"]')?.getAttribute('data-state') === 'failed',
      { timeout: 20_000 },
    );
    expect(await page.$eval('tr[data-node="rpi-b"] td.detail', (td) => td.textContent)).toBe(
      'asked for a file that is missing: bcm2711-rpi-4-b.dtb',
    );

    // An unknown Pi knocks: listed with the exact adopt command.
    await bootPi(serials.stranger);
    await page.waitForSelector(`#unknown-list li[data-id="${serials.stranger}"]`, { timeout: 20_000 });
    expect(
      await page.$eval(`#unknown-list li[data-id="${serials.stranger}"] code`, (c) => c.textContent),
    ).toBe(`bramble node adopt ${serials.stranger} --hostname pi-${serials.stranger} --image img`);
    expect(await page.$eval('#unknown', (s) => (s as HTMLElement).hidden)).toBe(false);
    await page.screenshot({ path: join(artifacts, 'status-page-fleet.png') });
  }, 180_000);

  it("a node's page shows its boot as a waterfall of steps", async () => {
    await page.click('tr[data-node="rpi-a"] a');
    await page.waitForSelector('#boots .boot[data-state="up"]', { timeout: 20_000 });
    expect(await page.$eval('#node-title', (h) => h.textContent)).toBe('rpi-a');
    const steps = await page.$$eval('#boots .boot .step', (divs) =>
      divs.map((d) => [d.querySelector('.name')?.textContent, d.getAttribute('data-result')]),
    );
    expect(steps).toContainEqual(['pieeprom.sig', 'expected-missing']);
    expect(steps).toContainEqual(['start4.elf', 'complete']);
    expect(steps).toContainEqual(['kernel8.img', 'complete']);
    expect(steps[steps.length - 1]).toEqual(['kernel handover', 'complete']);
    // The kernel's bar starts to the right of start4.elf's: a waterfall, in time order.
    const left = (name: string) =>
      page.$$eval(
        '#boots .step',
        (divs, wanted) => {
          const row = divs.find(
            (d) =>
              d.querySelector('.name')?.textContent === wanted &&
              d.getAttribute('data-result') === 'complete',
          );
          return Number.parseFloat((row?.querySelector('.bar') as HTMLElement | null)?.style.left ?? 'NaN');
        },
        name,
      );
    expect(await left('kernel8.img')).toBeGreaterThan(await left('start4.elf'));
    await page.screenshot({ path: join(artifacts, 'status-page-node.png'), fullPage: true });
    await page.click('a[href="#/"]');
    await page.waitForFunction(() => !document.getElementById('fleet-view')?.hidden, { timeout: 10_000 });
  }, 60_000);
});
