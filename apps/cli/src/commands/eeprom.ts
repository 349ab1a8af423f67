/**
 * `bramble eeprom`: bootloader settings for the fleet's Pi 4 / Pi 5 family nodes, composed from
 * @bramble/eeprom (image format, bootconf.txt schema, update files) and the provisioned layouts.
 */
import type { Chip, EepromImage, UpdateFiles, UpdateStatus } from '@bramble/eeprom';
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { type GlobalOptions, globals, manifestFor, outputFor } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import type { Output } from '../output.js';
import type { NodeLayout } from '../packages.js';
import { readLayouts } from '../store.js';

const loadEeprom = () => import('@bramble/eeprom');

interface SettingsOptions {
  image?: string[];
  bootconf?: string;
  set?: string[];
  unset?: string[];
  allowUnknown?: boolean;
  timestamp?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** --timestamp, else SOURCE_DATE_EPOCH (as rpi-eeprom-digest), else now. */
function timestampOf(o: SettingsOptions): number | undefined {
  const given = o.timestamp ?? process.env.SOURCE_DATE_EPOCH;
  if (given === undefined || given === '') return undefined;
  if (!/^\d{1,10}$/.test(given) || Number(given) > 0xffffffff)
    throw new UsageError(`--timestamp ${given}: expected seconds since 1970 (0…4294967295)`);
  return Number(given);
}

/** The base bootconf.txt (--bootconf FILE, else the image's own) with --set / --unset applied. */
async function assembleConfig(image: EepromImage, o: SettingsOptions): Promise<string> {
  const ee = await loadEeprom();
  const unknownKeys = o.allowUnknown ? 'pass' : 'reject';
  const base = o.bootconf
    ? await ee.readSmallText(o.bootconf, ee.MAX_FILE_SIZE, 'INVALID_CONFIG')
    : ee.readBootConf(image);
  const changes: Record<string, string | null> = {};
  for (const assignment of o.set ?? []) {
    const [key, value] = ee.parseSetting(assignment, { unknownKeys });
    changes[key] = value;
  }
  for (const key of o.unset ?? []) changes[key] = null;
  const config = ee.setBootConf(base, changes);
  ee.validateBootConf(config, { unknownKeys });
  return config;
}

async function loadImage(o: SettingsOptions): Promise<EepromImage> {
  if (!o.image || o.image.length === 0) throw new UsageError('--image pieeprom-*.bin is required');
  if (o.image.length > 1) throw new UsageError('give one --image here (rollout takes one per SoC)');
  return (await loadEeprom()).readEepromImage(o.image[0]!);
}

interface ChipUpdate {
  image: EepromImage;
  config: string;
}

/** rollout: one image per SoC (a Pi 4 and a Pi 5 image for a mixed fleet), each with its config. */
async function loadImagesByChip(o: SettingsOptions): Promise<Map<Chip, ChipUpdate>> {
  if (!o.image || o.image.length === 0) throw new UsageError('--image pieeprom-*.bin is required');
  const ee = await loadEeprom();
  const byChip = new Map<Chip, ChipUpdate>();
  for (const file of o.image) {
    const image = await ee.readEepromImage(file);
    if (byChip.has(image.chip))
      throw new UsageError(`two --image files for BCM${image.chip}: give one per SoC`);
    byChip.set(image.chip, { image, config: await assembleConfig(image, o) });
  }
  return byChip;
}

/** The image for a node: the one of its model's SoC; with a single image, that one (checked later). */
async function updateFor(layout: NodeLayout, byChip: Map<Chip, ChipUpdate>): Promise<ChipUpdate> {
  const ee = await loadEeprom();
  const model = layout.node.model;
  const chip = model ? ee.modelChip(model) : undefined;
  const entry = (chip && byChip.get(chip)) ?? (byChip.size === 1 ? [...byChip.values()][0] : undefined);
  if (entry) return entry;
  throw new CliError(
    'MODEL_MISMATCH',
    model
      ? `${layout.node.hostname} is a ${model}: give a firmware-${chip ?? '?'} image too (--image)`
      : `${layout.node.hostname} has no model in the manifest: with images for two SoCs, set its model`,
  );
}

/**
 * The provisioned layouts of the named nodes (all nodes when none are named). Unprovisioned nodes are
 * an error, or only a warning with `skipMissing` (status, remove).
 */
async function layoutsOf(
  g: GlobalOptions,
  hostnames: readonly string[],
  skipMissing?: Output,
): Promise<NodeLayout[]> {
  const m = await manifestFor(g);
  const unknown = hostnames.filter((h) => !m.manifest.nodes.some((n) => n.hostname === h));
  if (unknown.length > 0) throw new CliError('UNKNOWN_NODE', `not in the manifest: ${unknown.join(', ')}`);
  const { layouts, missing } = await readLayouts(m, hostnames);
  if (missing.length > 0 && skipMissing) skipMissing.warn(`not provisioned, skipped: ${missing.join(', ')}`);
  else if (missing.length > 0)
    throw new CliError(
      'NOT_PROVISIONED',
      `not provisioned yet: ${missing.join(', ')} (bramble node provision ${missing.join(' ')})`,
    );
  return layouts;
}

/** One node's update: its TFTP_PREFIX unless given, then model, prefix and network-boot checks. */
async function nodeUpdate(
  image: EepromImage,
  config: string,
  layout: NodeLayout,
  timestamp: number | undefined,
  out: Output,
): Promise<UpdateFiles> {
  const ee = await loadEeprom();
  const who = layout.node.hostname;
  ee.checkModelChip(layout.node.model, image.chip, who);
  if (layout.node.model === undefined)
    out.warn(`${who}: model unknown; make sure it is a BCM${image.chip} board`);
  const own =
    ee.effectiveSettings(config).TFTP_PREFIX === undefined
      ? ee.setBootConf(config, ee.tftpPrefixSettings(layout.node))
      : config;
  ee.checkTftpPrefix(own, layout.node);
  return ee.buildUpdate(image, {
    config: own,
    validate: false, // validated in assembleConfig
    ...(timestamp !== undefined ? { timestamp } : {}),
  });
}

async function configAction(o: SettingsOptions & { out?: string; node?: string }, g: GlobalOptions) {
  const out = outputFor(g);
  if (!o.out) throw new UsageError('--out DIR is required (pieeprom.upd and pieeprom.sig are written there)');
  const ee = await loadEeprom();
  const image = await loadImage(o);
  const config = await assembleConfig(image, o);
  const timestamp = timestampOf(o);
  const files = o.node
    ? await nodeUpdate(image, config, (await layoutsOf(g, [o.node]))[0]!, timestamp, out)
    : ee.buildUpdate(image, { config, validate: false, ...(timestamp !== undefined ? { timestamp } : {}) });
  for (const w of ee.selfUpdateWarnings(files.config)) out.warn(w);
  const written = await ee.writeUpdateFiles(o.out, files, { mkdir: true });
  report(out, files, [written.image, written.signature]);
}

async function recoveryAction(
  o: SettingsOptions & { out?: string; recoveryBin?: string; multiBoard?: boolean },
  g: GlobalOptions,
) {
  const out = outputFor(g);
  if (!o.out) throw new UsageError('--out DIR is required (copy its files to a FAT-formatted SD card)');
  if (!o.recoveryBin)
    throw new UsageError('--recovery-bin FILE is required (recovery.bin from rpi-eeprom firmware-2711|2712)');
  const ee = await loadEeprom();
  const image = await loadImage(o);
  const config = await assembleConfig(image, o);
  const timestamp = timestampOf(o);
  const files = ee.buildUpdate(image, {
    config,
    validate: false,
    ...(timestamp !== undefined ? { timestamp } : {}),
  });
  for (const w of ee.selfUpdateWarnings(files.config)) out.warn(w);
  const written = await ee.writeRecoveryFiles(o.out, files, {
    recoveryBin: o.recoveryBin,
    mkdir: true,
    ...(o.multiBoard ? { multiBoard: true } : {}),
  });
  report(out, files, written);
  out.print(
    `Copy these files to an empty FAT-formatted SD card (partition < 32 GB), boot the ${files.chip === '2711' ? 'Pi 4/400' : 'Pi 5/500'} from it and wait for the green LED to blink rapidly${o.multiBoard ? ' (recovery_wait=1: the card stays usable for the next board)' : ''}.`,
  );
}

function report(out: Output, files: UpdateFiles, paths: readonly string[]): void {
  if (out.json) {
    out.data({ chip: files.chip, timestamp: files.timestamp, config: files.config, files: paths });
    return;
  }
  for (const p of paths) out.print(`wrote ${p}`);
  out.print(`BCM${files.chip} image, update timestamp ${files.timestamp}; bootconf.txt:`);
  out.print(files.config.trimEnd());
}

async function showAction(file: string, o: { sections?: boolean }, g: GlobalOptions) {
  const out = outputFor(g);
  const ee = await loadEeprom();
  const image = await ee.readEepromImage(file);
  const raw = ee.readImageFile(image, 'bootconf.txt');
  if (out.json) {
    const config = new TextDecoder().decode(raw);
    out.data({
      file,
      chip: image.chip,
      abImage: image.isAbImage,
      config,
      settings: ee.effectiveSettings(config),
      sections: image.sections.map((s) => ({ ...s, magic: `0x${s.magic.toString(16)}` })),
    });
    return;
  }
  if (o.sections) {
    out.table(
      image.sections.map((s) => ({ ...s, magic: `0x${s.magic.toString(16)}` })),
      [
        { key: 'offset', header: 'OFFSET', align: 'right' },
        { key: 'length', header: 'LENGTH', align: 'right' },
        { key: 'magic', header: 'MAGIC' },
        { key: 'filename', header: 'FILE', format: (v) => String(v || '-') },
      ],
    );
    return;
  }
  process.stdout.write(raw); // exactly the bytes, like `rpi-eeprom-config FILE`
}

interface RolloutOptions extends SettingsOptions {
  status?: boolean;
  remove?: boolean;
  force?: boolean;
}

async function rolloutAction(hostnames: string[], o: RolloutOptions, g: GlobalOptions) {
  const out = outputFor(g);
  if (o.status && o.remove) throw new UsageError('--status and --remove do not go together');
  const ee = await loadEeprom();
  const layouts = await layoutsOf(g, hostnames, o.status || o.remove ? out : undefined);
  if (o.status) return rolloutStatus(out, layouts);
  if (o.remove) {
    if (hostnames.length === 0 && !(await confirm('remove pending EEPROM updates from every node?', g)))
      return;
    let removed = 0;
    for (const l of layouts) {
      const files = await ee.removeUpdateFiles(l.tftpDir);
      removed += files.length;
      for (const f of files) out.debug(`removed ${f}`);
    }
    out.print(`removed ${removed} file(s) from ${layouts.length} node(s)`);
    return;
  }
  if (hostnames.length === 0) throw new UsageError('name the nodes to update (bramble eeprom rollout NODE…)');
  const byChip = await loadImagesByChip(o);
  for (const { config } of byChip.values()) {
    if (!o.force) ee.checkNetworkBoot(config);
    for (const w of ee.selfUpdateWarnings(config)) out.warn(w);
  }
  const timestamp = timestampOf(o) ?? ee.nowSeconds();
  // Build every node's files first: nothing is placed unless all nodes pass their checks.
  const planned: { layout: NodeLayout; files: UpdateFiles }[] = [];
  for (const layout of layouts) {
    const { image, config } = await updateFor(layout, byChip);
    planned.push({ layout, files: await nodeUpdate(image, config, layout, timestamp, out) });
  }
  for (const { layout, files } of planned) {
    await warnIfSelfUpdateOff(out, layout);
    await ee.writeUpdateFiles(layout.tftpDir, files);
  }
  out.table(
    planned.map(({ layout, files }) => ({
      node: layout.node.hostname,
      model: layout.node.model ?? '?',
      soc: files.chip,
      dir: layout.tftpDir,
      prefix: ee.effectiveSettings(files.config).TFTP_PREFIX ?? '0',
    })),
    [
      { key: 'node', header: 'NODE' },
      { key: 'model', header: 'MODEL' },
      { key: 'soc', header: 'SOC' },
      { key: 'prefix', header: 'TFTP_PREFIX' },
      { key: 'dir', header: 'PLACED IN' },
    ],
  );
  out.note(
    `update timestamp ${timestamp}: each node applies it on its next network boot (self-update) and resets; then run bramble eeprom rollout --remove`,
  );
}

async function warnIfSelfUpdateOff(out: Output, layout: NodeLayout): Promise<void> {
  const ee = await loadEeprom();
  if (await ee.selfUpdateDisabledIn(layout.tftpDir))
    out.warn(
      `${layout.node.hostname}: config.txt sets bootloader_update=0, the bootloader will ignore the update`,
    );
  if (layout.node.model === 'cm4')
    out.warn(
      `${layout.node.hostname}: a CM4 ships with ENABLE_SELF_UPDATE=0; if it was never changed, flash it once with rpiboot/usbboot`,
    );
}

async function rolloutStatus(out: Output, layouts: readonly NodeLayout[]): Promise<void> {
  const ee = await loadEeprom();
  const rows: (UpdateStatus & { node: string; dir: string; state: string })[] = [];
  for (const l of layouts) {
    const s = await ee.updateStatus(l.tftpDir);
    const state = s.present ? (s.valid ? 'pending' : 'invalid') : s.problem ? 'invalid' : 'none';
    rows.push({ node: l.node.hostname, dir: l.tftpDir, state, ...s });
  }
  out.table(
    rows,
    [
      { key: 'node', header: 'NODE' },
      { key: 'state', header: 'UPDATE' },
      { key: 'chip', header: 'SOC' },
      {
        key: 'timestamp',
        header: 'TIMESTAMP',
        format: (v) => (typeof v === 'number' ? new Date(v * 1000).toISOString() : '-'),
      },
      { key: 'settings', header: 'BOOT_ORDER', format: (_v, r) => r.settings?.BOOT_ORDER ?? '-' },
      {
        key: 'fetchedAt',
        header: 'FETCHED',
        format: (v, r) =>
          typeof v === 'number' ? `yes ${new Date(v).toISOString()}` : r.present ? 'no' : '-',
      },
      { key: 'problem', header: 'PROBLEM' },
    ],
    { empty: '(no nodes)' },
  );
}

function settingsOptions(cmd: Command): Command {
  return cmd
    .option(
      '--image <file>',
      'pieeprom-*.bin (Pi 4: firmware-2711, Pi 5: firmware-2712; rollout: one of each)',
      collect,
    )
    .option('--bootconf <file>', "start from this bootconf.txt instead of the image's own")
    .option('--set <KEY=VALUE>', 'set a bootloader property (repeatable)', collect)
    .option('--unset <KEY>', 'remove a bootloader property (repeatable)', collect)
    .option('--allow-unknown', 'keep properties that are not documented instead of refusing them')
    .option('--timestamp <seconds>', 'update timestamp (default: SOURCE_DATE_EPOCH, else now)');
}

export function register(program: Command): void {
  const eeprom = program
    .command('eeprom')
    .description(
      'bootloader EEPROM settings for Pi 4/400/CM4 and Pi 5/500/CM5 (show, config, recovery, rollout)',
    )
    .addHelpText(
      'after',
      `
Examples:
  bramble eeprom show pieeprom-2026-08-04.bin
  bramble eeprom rollout rpi-k8s-02 rpi-k8s-03 --image pieeprom-2026-08-04.bin --set BOOT_ORDER=0xf21
  bramble eeprom rollout --status`,
    );

  eeprom
    .command('show')
    .description('print the bootloader config embedded in an EEPROM image (like rpi-eeprom-config FILE)')
    .argument('<file>', 'pieeprom-*.bin or pieeprom.upd')
    .option('--sections', 'list the image sections instead')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble eeprom show pieeprom.upd\n  bramble eeprom show pieeprom.bin --json',
    )
    .action(async (file: string, o: { sections?: boolean }, cmd: Command) =>
      showAction(file, o, globals(cmd)),
    );

  settingsOptions(
    eeprom
      .command('config')
      .description(
        'write pieeprom.upd + pieeprom.sig with new bootloader settings (as rpi-eeprom-config + rpi-eeprom-update)',
      ),
  )
    .option('--out <dir>', 'directory for pieeprom.upd and pieeprom.sig')
    .option('--node <hostname>', "set TFTP_PREFIX for this node's TFTP directory and check its model")
    .addHelpText(
      'after',
      `
Examples:
  bramble eeprom config --image pieeprom-2026-08-04.bin --set BOOT_ORDER=0xf21 --set TFTP_PREFIX=2 --out ./upd
  bramble eeprom config --image pieeprom-2026-06-29.bin --bootconf fleet-bootconf.txt --node rpi-k8s-04 --out ./upd`,
    )
    .action(async (o: SettingsOptions & { out?: string; node?: string }, cmd: Command) =>
      configAction(o, globals(cmd)),
    );

  settingsOptions(
    eeprom
      .command('recovery')
      .description(
        'SD-card files to flash the bootloader of a new board (recovery.bin + pieeprom.upd + .sig)',
      ),
  )
    .option('--recovery-bin <file>', 'recovery.bin for the same SoC (rpi-eeprom firmware-2711|2712)')
    .option('--out <dir>', 'directory to copy onto a FAT-formatted SD card')
    .option('--multi-board', 'add config.txt recovery_wait=1 so one card flashes board after board')
    .addHelpText(
      'after',
      `
Examples:
  bramble eeprom recovery --image pieeprom-2026-08-04.bin --recovery-bin recovery.bin --set BOOT_ORDER=0xf21 --out /media/sdcard`,
    )
    .action(
      async (
        o: SettingsOptions & { out?: string; recoveryBin?: string; multiBoard?: boolean },
        cmd: Command,
      ) => recoveryAction(o, globals(cmd)),
    );

  settingsOptions(
    eeprom
      .command('rollout')
      .description("place a bootloader update in nodes' TFTP directories for self-update on their next boot")
      .argument('[nodes...]', 'node hostnames (all nodes for --status / --remove)'),
  )
    .option('--status', 'show the pending updates')
    .option('--remove', 'remove the update files (after the nodes have applied them)')
    .option('--force', 'allow a BOOT_ORDER without network boot')
    .addHelpText(
      'after',
      `
Network self-update: the Pi 4/400 (bootloader from 2021 on) and Pi 5/500 bootloaders fetch
pieeprom.sig and pieeprom.upd from the node's TFTP directory and flash it when its timestamp is newer.
recovery.bin is never fetched over the network. CM4 (self-update off from the factory), EEPROMs with
ENABLE_SELF_UPDATE=0 or FREEZE_VERSION=1, and config.txt bootloader_update=0 do not self-update: use
bramble eeprom recovery (SD card) or rpiboot/usbboot once.

Examples:
  bramble eeprom rollout rpi-k8s-02 --image pieeprom-2026-08-04.bin --set BOOT_ORDER=0xf21
  bramble eeprom rollout rpi-k8s-02 rpi-k8s-04 --image pieeprom-2711.bin --image pieeprom-2712.bin --set BOOT_ORDER=0xf21
  bramble eeprom rollout --status
  bramble eeprom rollout rpi-k8s-02 --remove`,
    )
    .action(async (nodes: string[], o: RolloutOptions, cmd: Command) =>
      rolloutAction(nodes, o, globals(cmd)),
    );
}
