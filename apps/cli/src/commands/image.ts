import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import type { ImageInspection } from '@bramble/image';
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { editManifest, globals, manifestFor, outputFor } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatBytes, type Output } from '../output.js';
import { loadBootTree, loadImage } from '../packages.js';
import { ensureExtracted, isExtracted, storedImage } from '../store.js';
import { registerImageUpdate } from './image-update.js';

/** `2024-11-19-raspios-bookworm-arm64-lite.img.xz` -> `2024-11-19-raspios-bookworm-arm64-lite` */
export function imageNameFromFile(file: string): string {
  return basename(file)
    .replace(/\.(img\.xz|img\.gz|img|zip|xz|gz)$/i, '')
    .replace(/[^a-zA-Z0-9._-]/g, '-');
}

export function register(program: Command): void {
  const image = program
    .command('image')
    .description('manage OS images (add, ls, inspect, rm, extract, update)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image add bookworm ./raspios-bookworm-arm64-lite.img.xz\n  bramble image ls --json',
    );

  image
    .command('add')
    .description('add an image to the manifest and extract it into the image store')
    .argument('<name>', 'name the nodes refer to')
    .argument('<file>', '.img, .img.xz, .zip or .img.gz')
    .option('--no-extract', 'only record it; extract when a node needs it')
    .option('--force', 'extract again even if an up-to-date extraction exists')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image add bookworm ./2024-11-19-raspios-bookworm-arm64-lite.img.xz',
    )
    .action(async (name: string, file: string, opts: { extract: boolean; force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      if (!/^[a-zA-Z0-9._-]+$/.test(name))
        throw new UsageError(`image name '${name}' may only hold letters, digits, . _ -`);
      if (!existsSync(file)) throw new CliError('NOT_FOUND', `image file ${file} does not exist`);
      await manifestFor(g);
      const m = await editManifest(g.config, (doc) => {
        const rel = relative(resolve(g.config, '..'), resolve(file));
        doc.setIn(['images', name], rel.startsWith('..') ? resolve(file) : `./${rel}`);
      });
      out.print(`added image ${name} (${file})`);
      if (opts.extract) await ensureExtracted(storedImage(m, name), out, { force: opts.force ?? false });
    });

  image
    .command('ls')
    .description('list the images of the manifest')
    .addHelpText('after', '\nExamples:\n  bramble image ls\n  bramble image ls --json')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      const bt = await loadBootTree().catch(() => undefined);
      const rows = [];
      for (const name of Object.keys(m.manifest.images)) {
        const img = storedImage(m, name);
        const extracted = await isExtracted(img);
        let release: string | undefined;
        if (extracted && bt?.detectRelease)
          release = await bt.detectRelease(img.rootDir).then(
            (r) => r.codename,
            () => undefined,
          );
        rows.push({
          name,
          file: img.file,
          exists: existsSync(img.file),
          extracted,
          release,
          nodes: m.manifest.nodes.filter((n) => n.image === name).length,
        });
      }
      out.table(
        rows,
        [
          { key: 'name', header: 'NAME' },
          { key: 'release', header: 'RELEASE' },
          { key: 'extracted', header: 'EXTRACTED', format: (v) => (v ? 'yes' : 'no') },
          { key: 'nodes', header: 'NODES', align: 'right' },
          { key: 'file', header: 'FILE', format: (v, r) => `${String(v)}${r.exists ? '' : ' (missing)'}` },
        ],
        { empty: 'no images: add one with bramble image add NAME FILE' },
      );
    });

  image
    .command('inspect')
    .description('show partitions, file systems, labels, OS release, PARTUUIDs and boot files of an image')
    .argument('<image>', 'image file, or the name of an image in the manifest')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image inspect ./raspios.img.xz\n  bramble image inspect bookworm --json',
    )
    .action(async (arg: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      let file = arg;
      if (!existsSync(arg)) {
        const m = existsSync(g.config) ? await manifestFor(g) : undefined;
        const f = m?.imageFiles[arg];
        if (!f)
          throw new CliError('NOT_FOUND', `${arg} is neither an image file nor an image in the manifest`);
        file = f;
      }
      const info = await (await loadImage()).inspectImage(file);
      if (info.table === 'none' && info.partitions.every((p) => (p.fsType ?? 'unknown') === 'unknown'))
        throw new CliError(
          'NOT_AN_IMAGE',
          `${file} is not a disk image: no partition table and no FAT or ext2/3/4 file system`,
        );
      if (g.json) return out.data(info);
      printInspection(out, file, info);
    });

  image
    .command('rm')
    .description('remove an image from the manifest and delete its extraction')
    .argument('<name>')
    .addHelpText('after', '\nExamples:\n  bramble image rm bullseye --yes')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      if (!(name in m.manifest.images)) throw new CliError('NOT_FOUND', `no image '${name}' in ${g.config}`);
      const users = m.manifest.nodes.filter((n) => n.image === name).map((n) => n.hostname);
      if (users.length > 0)
        throw new CliError(
          'IN_USE',
          `image ${name} is used by ${users.join(', ')}: remove those nodes first`,
        );
      const img = storedImage(m, name);
      if (!(await confirm(`remove image ${name} and delete ${img.dir}?`, g)))
        return out.print('nothing removed');
      await editManifest(g.config, (doc) => {
        doc.deleteIn(['images', name]);
      });
      await rm(img.dir, { recursive: true, force: true });
      out.print(`removed image ${name}`);
    });

  registerImageUpdate(image);

  image
    .command('extract')
    .description("extract an image's boot and root partitions into directories (or tar archives)")
    .argument('<image>', 'image file')
    .requiredOption('--boot <dir>', 'where the boot partition goes')
    .requiredOption('--root <dir>', 'where the root partition goes')
    .option(
      '--tar',
      'write POSIX pax archives (<dir>.tar) instead of trees: keeps ownership and xattrs without root',
    )
    .option('--allow-non-root', 'extract as a normal user, without ownership/devices/security xattrs')
    .option(
      '--overwrite',
      'replace destinations that hold an earlier bramble extraction (never other directories, / or $HOME)',
    )
    .addHelpText(
      'after',
      '\nBoth partitions are written beside their destinations and moved into place together at the end;\non failure or Ctrl-C nothing is left behind (no partial trees, no decompressed image).\n\nExamples:\n  bramble image extract raspios.img.xz --boot ./boot --root ./root\n  bramble image extract raspios.img.xz --boot boot.tar --root root.tar --tar',
    )
    .action(async (file: string, opts: ExtractFlags, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      if (!existsSync(file)) throw new CliError('NOT_FOUND', `image file ${file} does not exist`);
      const image = await loadImage();
      const interrupt = onInterrupt();
      try {
        const results = await extractBootAndRoot(image, file, opts, out, interrupt.signal);
        if (g.json) out.data(results);
      } catch (e) {
        if (interrupt.received !== undefined) {
          process.stderr.write(
            `bramble: interrupted (${interrupt.received}): partial output and temporary files removed\n`,
          );
          process.exitCode = interrupt.received === 'SIGINT' ? 130 : 143;
          return;
        }
        throw asCliError(e);
      } finally {
        interrupt.dispose();
      }
    });
}

interface ExtractFlags {
  boot: string;
  root: string;
  tar?: boolean;
  allowNonRoot?: boolean;
  overwrite?: boolean;
}

type ImageModule = Awaited<ReturnType<typeof loadImage>>;

/** Check first, open (decompress) once, extract both partitions; they are committed together. */
async function extractBootAndRoot(
  image: ImageModule,
  file: string,
  opts: ExtractFlags,
  out: Output,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const common = {
    ...(opts.tar ? { format: 'tar' as const } : {}),
    ...(opts.allowNonRoot ? { allowNonRoot: true } : {}),
    ...(opts.overwrite ? { overwrite: true } : {}),
  };
  await image.checkExtraction({ targets: [{ to: opts.boot }, { to: opts.root }], ...common });
  // The decompressed copy goes next to the root tree (the biggest output); removed by close().
  const tmpDir = dirname(resolve(opts.root));
  await mkdir(tmpDir, { recursive: true });
  const disk = await image.openImage(file, { tmpDir, signal });
  try {
    const parts = image.bootAndRootPartitions(disk.partitions);
    const names = new Map([
      [opts.boot, 'boot'],
      [opts.root, 'root'],
    ]);
    const bars = new Map<string, ReturnType<Output['progress']>>();
    const [boot, root] = await image.extractPartitions(disk, {
      targets: [
        { partition: parts.boot, to: opts.boot },
        { partition: parts.root, to: opts.root },
      ],
      ...common,
      signal,
      onProgress: (p) => {
        let bar = bars.get(p.to);
        if (!bar) {
          bar = out.progress(`extracting ${names.get(p.to) ?? p.to}`);
          bars.set(p.to, bar);
        }
        bar.update(p.bytes, p.totalBytes);
        if (p.phase === 'finish') bar.done(`wrote ${names.get(p.to) ?? p.to} (${p.files} entries)`);
      },
    });
    out.note(`extracted boot to ${opts.boot} and root to ${opts.root}`);
    return { boot, root };
  } finally {
    await disk.close();
  }
}

/** Image errors caused by the command line (destinations, options) are usage errors: exit 2. */
const USAGE_CODES = new Set([
  'INVALID_OPTIONS',
  'DESTINATION_NOT_EMPTY',
  'DESTINATION_FOREIGN',
  'DESTINATION_PROTECTED',
  'DESTINATION_CONFLICT',
]);

function asCliError(e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && USAGE_CODES.has(code))
    return new CliError(code, (e as Error).message, 2, { cause: e });
  return e;
}

/**
 * Ctrl-C / SIGTERM abort the extraction, which then removes its partial output and the
 * decompressed copy before the command exits (130 / 143); a second signal exits at once.
 */
function onInterrupt(): { signal: AbortSignal; received: NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  const state = {
    signal: controller.signal,
    received: undefined as NodeJS.Signals | undefined,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
  const handler = (signal: NodeJS.Signals) => {
    if (state.received !== undefined) process.exit(signal === 'SIGINT' ? 130 : 143);
    state.received = signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return state;
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
    info.partitions.map((p) => ({ ...p, sizeText: formatBytes(p.size) })),
    [
      { key: 'number', header: '#' },
      { key: 'label', header: 'LABEL' },
      { key: 'fsType', header: 'FS' },
      { key: 'sizeText', header: 'SIZE', align: 'right' },
      { key: 'partuuid', header: 'PARTUUID' },
    ],
  );
  const b = info.bootFiles;
  if (b) {
    out.print(`\nboot files (partition ${b.partition}):`);
    out.print(
      `  bootcode.bin: ${b.bootcode ? 'yes' : 'no'}, config.txt: ${b.configTxt ? 'yes' : 'no'}, cmdline.txt: ${b.cmdlineTxt ? 'yes' : 'no'}`,
    );
    out.print(`  start*.elf: ${b.startElf.join(' ') || '-'}`);
    out.print(`  fixup*.dat: ${b.fixup.join(' ') || '-'}`);
    out.print(`  kernels: ${b.kernels.join(' ') || '-'}`);
    if (b.cmdline) out.print(`  cmdline: ${b.cmdline}`);
  }
  for (const w of info.warnings) out.warn(w);
}
