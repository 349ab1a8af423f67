import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { definedOnly } from '@bramble/pi';
import type { Command } from 'commander';
import { commandContext } from '../../context.js';
import { CliError } from '../../errors.js';
import type { Output } from '../../output.js';
import { loadImage } from '../../packages.js';

export function registerExtract(image: Command): void {
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
    .action(async (file: string, flags: ExtractFlags, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      if (!existsSync(file)) throw new CliError('NOT_FOUND', `image file ${file} does not exist`);
      const imageModule = await loadImage();
      const interrupt = onInterrupt();
      try {
        const results = await extractBootAndRoot(imageModule, file, flags, out, interrupt.signal);
        if (globalOptions.json) out.data(results);
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
  flags: ExtractFlags,
  out: Output,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const common = definedOnly({
    format: flags.tar ? ('tar' as const) : undefined,
    allowNonRoot: flags.allowNonRoot ? true : undefined,
    overwrite: flags.overwrite ? true : undefined,
  });
  await image.checkExtraction({ targets: [{ to: flags.boot }, { to: flags.root }], ...common });
  // The decompressed copy goes next to the root tree (the biggest output); removed by close().
  const tmpDir = dirname(resolve(flags.root));
  await mkdir(tmpDir, { recursive: true });
  const disk = await image.openImage(file, { tmpDir, signal });
  try {
    const parts = image.bootAndRootPartitions(disk.partitions);
    const [boot, root] = await image.extractPartitions(disk, {
      targets: [
        { partition: parts.boot, to: flags.boot },
        { partition: parts.root, to: flags.root },
      ],
      ...common,
      signal,
      onProgress: progressBars(out, flags),
    });
    out.note(`extracted boot to ${flags.boot} and root to ${flags.root}`);
    return { boot, root };
  } finally {
    await disk.close();
  }
}

type ExtractProgress = Parameters<
  NonNullable<Parameters<ImageModule['extractPartitions']>[1]['onProgress']>
>[0];

/** One progress bar per destination, named boot or root. */
function progressBars(out: Output, flags: ExtractFlags): (progress: ExtractProgress) => void {
  const names = new Map([
    [flags.boot, 'boot'],
    [flags.root, 'root'],
  ]);
  const bars = new Map<string, ReturnType<Output['progress']>>();
  return (progress) => {
    const name = names.get(progress.to) ?? progress.to;
    let bar = bars.get(progress.to);
    if (!bar) {
      bar = out.progress(`extracting ${name}`);
      bars.set(progress.to, bar);
    }
    bar.update(progress.bytes, progress.totalBytes);
    if (progress.phase === 'finish') bar.done(`wrote ${name} (${progress.files} entries)`);
  };
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
