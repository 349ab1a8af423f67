import { existsSync } from 'node:fs';
import type { ImageInspection } from '@bramble/image';
import type { Command } from 'commander';
import { commandContext, type GlobalOptions, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';
import { formatBytes, type Output } from '../../output.js';
import { loadImage } from '../../packages.js';

export function registerInspect(image: Command): void {
  image
    .command('inspect')
    .description('show partitions, file systems, labels, OS release, PARTUUIDs and boot files of an image')
    .argument('<image>', 'image file, or the name of an image in the manifest')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image inspect ./raspios.img.xz\n  bramble image inspect bookworm --json',
    )
    .action(async (fileOrName: string, _options: unknown, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const file = await imageFile(globalOptions, fileOrName);
      const info = await (await loadImage()).inspectImage(file);
      if (info.table === 'none' && info.partitions.every((part) => (part.fsType ?? 'unknown') === 'unknown'))
        throw new CliError(
          'NOT_AN_IMAGE',
          `${file} is not a disk image: no partition table and no FAT or ext2/3/4 file system`,
        );
      if (globalOptions.json) return out.data(info);
      printInspection(out, file, info);
    });
}

/** The file itself, or the file of the manifest's image of that name. */
async function imageFile(globalOptions: GlobalOptions, fileOrName: string): Promise<string> {
  if (existsSync(fileOrName)) return fileOrName;
  const manifest = existsSync(globalOptions.config) ? await manifestFor(globalOptions) : undefined;
  const file = manifest?.imageFiles[fileOrName];
  if (!file)
    throw new CliError('NOT_FOUND', `${fileOrName} is neither an image file nor an image in the manifest`);
  return file;
}

function printInspection(out: Output, file: string, info: ImageInspection): void {
  out.print(
    `${out.bold(file)}: ${info.format}, ${formatBytes(info.size)}, ${info.table} partition table${info.diskId ? ` (disk id ${info.diskId})` : ''}`,
  );
  const os = info.osRelease;
  if (os)
    out.print(
      `OS release: ${os.PRETTY_NAME ?? os.NAME ?? '?'}${os.VERSION_CODENAME ? ` (${os.VERSION_CODENAME})` : ''} on partition ${info.rootPartition ?? '?'}`,
    );
  out.print();
  out.table(
    info.partitions.map((part) => ({ ...part, sizeText: formatBytes(part.size) })),
    [
      { key: 'number', header: '#' },
      { key: 'label', header: 'LABEL' },
      { key: 'fsType', header: 'FS' },
      { key: 'sizeText', header: 'SIZE', align: 'right' },
      { key: 'partuuid', header: 'PARTUUID' },
    ],
  );
  if (info.bootFiles) printBootFiles(out, info.bootFiles);
  for (const warning of info.warnings) out.warn(warning);
}

function printBootFiles(out: Output, boot: NonNullable<ImageInspection['bootFiles']>): void {
  const yesNo = (present: unknown) => (present ? 'yes' : 'no');
  out.print(`\nboot files (partition ${boot.partition}):`);
  out.print(
    `  bootcode.bin: ${yesNo(boot.bootcode)}, config.txt: ${yesNo(boot.configTxt)}, cmdline.txt: ${yesNo(boot.cmdlineTxt)}`,
  );
  out.print(`  start*.elf: ${boot.startElf.join(' ') || '-'}`);
  out.print(`  fixup*.dat: ${boot.fixup.join(' ') || '-'}`);
  out.print(`  kernels: ${boot.kernels.join(' ') || '-'}`);
  if (boot.cmdline) out.print(`  cmdline: ${boot.cmdline}`);
}
