import { createWriteStream, existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ListenAddress } from '@bramble/manifest';
import { checkBindPrivilege } from 'brambled';
import type { Command } from 'commander';
import { globals, outputFor } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatBytes, formatMs } from '../output.js';
import { loadTftp } from '../packages.js';

function intArg(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`${name} must be an integer ${min}..${max}, got '${v}'`);
    return n;
  };
}

export function register(program: Command): void {
  const tftp = program
    .command('tftp')
    .description('a standalone TFTP server and client (@bramble/tftp)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble tftp serve --root ./tftp --listen 127.0.0.1:6969\n  bramble tftp get 127.0.0.1 bootcode.bin --port 6969',
    );

  tftp
    .command('serve')
    .description('serve a directory over TFTP in the foreground')
    .requiredOption('--root <dir>', 'directory to serve (nothing outside it is ever served)')
    .option('--listen <addr:port>', 'address and port', '0.0.0.0:69')
    .option('--single-port', 'run every transfer on the listening port (NAT, containers, firewalls)')
    .option('--allow-write', 'accept uploads (WRQ) into the root')
    .option('--engine <engine>', 'data path for reads: auto (native pump when built), native or js', 'auto')
    .addHelpText(
      'after',
      `
Examples:
  sudo bramble tftp serve --root /srv/tftp
  bramble tftp serve --root ./tftp --listen 127.0.0.1:6969 --single-port`,
    )
    .action(
      async (
        o: { root: string; listen: string; singlePort?: boolean; allowWrite?: boolean; engine: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const out = outputFor(g);
        const l = ListenAddress.safeParse(o.listen);
        if (!l.success) throw new UsageError(`--listen: expected ADDR:PORT, got '${o.listen}'`);
        const engine = o.engine;
        if (engine !== 'auto' && engine !== 'native' && engine !== 'js')
          throw new UsageError(`--engine: expected auto, native or js, got '${engine}'`);
        if (!existsSync(o.root) || !statSync(o.root).isDirectory())
          throw new CliError('NOT_FOUND', `--root ${o.root} is not a directory`);
        checkBindPrivilege('TFTP', l.data.port);
        const mod = await loadTftp();
        // Uploads (the library's write handler): inside the root only, never over an existing file, made
        // under a temporary name and moved into place when complete (an aborted upload leaves nothing);
        // missing directories are made inside the root only.
        const writeHandler = o.allowWrite
          ? mod.fsWriteHandler(o.root, { createDirectories: true })
          : undefined;
        const server = mod.createServer({
          handler: mod.fsHandler(o.root),
          ...(writeHandler !== undefined ? { writeHandler } : {}),
          ...(o.singlePort ? { singlePort: true } : {}),
          engine,
        });
        server.on('complete', (e) =>
          out.note(
            `${e.remoteAddress} ${e.file}: ${formatBytes(e.bytes ?? 0)} in ${formatMs(e.durationMs ?? 0)}`,
          ),
        );
        server.on('failed', (e) =>
          out.note(
            `${e.remoteAddress} ${e.file}: ${e.error instanceof Error ? e.error.message : String(e.error ?? 'failed')}`,
          ),
        );
        await server.listen(l.data);
        const a = server.address() ?? l.data;
        out.note(
          `serving ${o.root} on ${a.address}:${a.port}${o.singlePort ? ' (single port)' : ''} (${server.engine} engine); Ctrl-C stops`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close({ deadlineMs: 5000 }).then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      },
    );

  tftp
    .command('get')
    .description('download a file over TFTP')
    .argument('<host>')
    .argument('<file>')
    .option('-o, --output <file>', "where to write it ('-' for stdout; default: the file's base name)")
    .option('--port <n>', 'server port', intArg('--port', 1, 65535), 69)
    .option('--blksize <n>', 'RFC 2348 block size', intArg('--blksize', 8, 65464))
    .option('--windowsize <n>', 'RFC 7440 window size', intArg('--windowsize', 1, 65535))
    .option('--tsize', 'ask for the transfer size (RFC 2349)')
    .option('--timeout <s>', 'retransmit timeout in seconds', intArg('--timeout', 1, 255))
    .addHelpText(
      'after',
      `
Examples:
  bramble tftp get 192.168.1.10 bootcode.bin
  bramble tftp get 127.0.0.1 7a1b2c3d/start4.elf --port 6969 --blksize 1468 -o start4.elf
  bramble tftp get 127.0.0.1 kernel8.img --windowsize 16 -o - | sha256sum`,
    )
    .action(
      async (
        host: string,
        file: string,
        o: {
          output?: string;
          port: number;
          blksize?: number;
          windowsize?: number;
          tsize?: boolean;
          timeout?: number;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const out = outputFor(g);
        const mod = await loadTftp();
        const target = o.output ?? basename(file);
        const stream = mod.get(host, file, {
          port: o.port,
          ...(o.blksize !== undefined ? { blksize: o.blksize } : {}),
          ...(o.windowsize !== undefined ? { windowsize: o.windowsize } : {}),
          ...(o.tsize ? { tsize: true } : {}),
          ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
        });
        const partial = target === '-' ? undefined : `${target}.partial`;
        try {
          await pipeline(stream, target === '-' ? process.stdout : createWriteStream(partial as string));
          const stats = await stream.done;
          if (partial) await rename(partial, target);
          if (g.json) out.data(stats);
          else
            out.note(
              `${file}: ${formatBytes(stats.bytes)} in ${formatMs(stats.durationMs)} (${stats.blocks} blocks, ${stats.retransmits} retransmits${
                Object.keys(stats.options).length
                  ? `, ${Object.entries(stats.options)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(' ')}`
                  : ''
              })`,
            );
        } catch (e) {
          stream.done.catch(() => undefined);
          if (partial) await rm(partial, { force: true });
          const err = e as { code?: string; message?: string };
          throw new CliError(
            err.code ?? 'TFTP',
            `tftp get ${host}:${o.port} ${file}: ${err.message ?? String(e)}`,
            1,
            { cause: e },
          );
        }
      },
    );
}
