/**
 * Bramble's side of the bootloader config: which SoC image a node's model takes, and which
 * TFTP_PREFIX makes the bootloader ask for the directory Bramble provisioned the node under.
 *
 * The directory naming (serial, else MAC as `dc-a6-32-01-36-c2`; `tftpPrefix` choosing) is
 * @bramble/pi's `tftpDirName()` — imported, never restated here.
 */
import type { NodeSpec } from '@bramble/boot-tree';
import { macDirName, type PiModelName, piModel, tftpDirName } from '@bramble/pi';
import { effectiveSettings } from './bootconf.js';
import { EepromError } from './errors.js';
import type { Chip } from './image.js';

/** The bootloader EEPROM SoC of a model (from @bramble/pi's model table); Pi 3-family models have none. */
export function modelChip(model: PiModelName): Chip | undefined {
  const { soc } = piModel(model);
  return soc === 'bcm2711' ? '2711' : soc === 'bcm2712' ? '2712' : undefined;
}

/** Throws MODEL_MISMATCH unless an image for `chip` can go to a node of `model` (unknown model: any). */
export function checkModelChip(model: PiModelName | undefined, chip: Chip, who = 'the node'): void {
  if (model === undefined) return;
  const wanted = modelChip(model);
  if (wanted === undefined) {
    throw new EepromError(
      'MODEL_MISMATCH',
      `${who} is a ${model}: Pi 3-family models boot from ROM + bootcode.bin and have no bootloader EEPROM`,
    );
  }
  if (wanted !== chip) {
    throw new EepromError(
      'MODEL_MISMATCH',
      `${who} is a ${model} (BCM${wanted}) but the image is for BCM${chip}; use a pieeprom-*.bin from firmware-${wanted}`,
    );
  }
}

/**
 * The bootconf.txt settings that make the bootloader request `<dir>/…` for this node:
 * TFTP_PREFIX=0 (serial, the bootloader default) or TFTP_PREFIX=2 (MAC) — both work for a whole
 * fleet with one image; eeprom-bootloader.adoc, TFTP_PREFIX.
 */
export function tftpPrefixSettings(node: NodeSpec): { TFTP_PREFIX: '0' | '2' } {
  const dir = tftpDirName(node);
  if (node.serial !== undefined && dir === node.serial) return { TFTP_PREFIX: '0' };
  return { TFTP_PREFIX: '2' };
}

/**
 * Throws PREFIX_MISMATCH unless bootconf.txt's TFTP_PREFIX (default 0) / TFTP_PREFIX_STR lead the
 * bootloader to the node's Bramble directory: 0 → `<serial>/`, 2 → `dc-a6-…/`, 1 → the string,
 * which then must be `<dir>/` exactly (max 32 characters).
 */
export function checkTftpPrefix(config: string, node: NodeSpec): void {
  const settings = effectiveSettings(config);
  const prefix = settings.TFTP_PREFIX ?? '0';
  const dir = tftpDirName(node);
  const asks =
    prefix === '0'
      ? node.serial
      : prefix === '2'
        ? node.mac && macDirName(node.mac)
        : (settings.TFTP_PREFIX_STR ?? '').replace(/\/$/, '');
  const wellFormed = prefix !== '1' || settings.TFTP_PREFIX_STR === `${dir}/`;
  if (asks === dir && wellFormed) return;
  const fix = tftpPrefixSettings(node);
  const what =
    prefix === '0'
      ? 'its serial'
      : prefix === '2'
        ? 'its MAC'
        : `TFTP_PREFIX_STR '${settings.TFTP_PREFIX_STR ?? ''}'`;
  throw new EepromError(
    'PREFIX_MISMATCH',
    `${node.hostname}: TFTP_PREFIX=${prefix} makes the bootloader ask for ${what}${asks ? ` (${asks}/)` : ' (unknown to Bramble)'} but Bramble serves the node from ${dir}/; set TFTP_PREFIX=${fix.TFTP_PREFIX}${prefix === '1' ? ` or TFTP_PREFIX_STR=${dir}/` : ''}`,
  );
}
