import { existsSync, statSync } from 'node:fs';
import { ListenAddress } from '@bramble/manifest';
import { checkBindPrivilege } from 'brambled';
import type { Command } from 'commander';
import { commandContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { formatBytes, formatMs, type Output } from '../../output.js';
import { loadTftp } from '../../packages.js';

interface ServeOptions {
  root: string;
  listen: string;
  singlePort?: boolean;
  allowWrite?: boolean;
  engine: string;
}

type TftpServer = ReturnType<Awaited<ReturnType<typeof loadTftp>>['createServer']>;

export function registerServe(tftp: Command): void {
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
    .action(async (options: ServeOptions, cmd: Command) => {
      const { out } = commandContext(cmd);
      const listen = ListenAddress.safeParse(options.listen);
      if (!listen.success) throw new UsageError(`--listen: expected ADDR:PORT, got '${options.listen}'`);
      const engine = options.engine;
      if (engine !== 'auto' && engine !== 'native' && engine !== 'js')
        throw new UsageError(`--engine: expected auto, native or js, got '${engine}'`);
      if (!existsSync(options.root) || !statSync(options.root).isDirectory())
        throw new CliError('NOT_FOUND', `--root ${options.root} is not a directory`);
      checkBindPrivilege('TFTP', listen.data.port);
      const tftpModule = await loadTftp();
      // Uploads (the library's write handler): inside the root only, never over an existing file, made
      // under a temporary name and moved into place when complete (an aborted upload leaves nothing);
      // missing directories are made inside the root only.
      const server = tftpModule.createServer({
        handler: tftpModule.fsHandler(options.root),
        ...(options.allowWrite
          ? { writeHandler: tftpModule.fsWriteHandler(options.root, { createDirectories: true }) }
          : {}),
        ...(options.singlePort ? { singlePort: true } : {}),
        engine,
      });
      logTransfers(server, out);
      await server.listen(listen.data);
      const bound = server.address() ?? listen.data;
      out.note(
        `serving ${options.root} on ${bound.address}:${bound.port}${options.singlePort ? ' (single port)' : ''} (${server.engine} engine); Ctrl-C stops`,
      );
      await untilSignalled(server);
    });
}

function logTransfers(server: TftpServer, out: Output): void {
  server.on('complete', (event) =>
    out.note(
      `${event.remoteAddress} ${event.file}: ${formatBytes(event.bytes ?? 0)} in ${formatMs(event.durationMs ?? 0)}`,
    ),
  );
  server.on('failed', (event) =>
    out.note(
      `${event.remoteAddress} ${event.file}: ${event.error instanceof Error ? event.error.message : String(event.error ?? 'failed')}`,
    ),
  );
}

/** Resolves once SIGINT or SIGTERM has closed the server (transfers get 5 s to finish). */
function untilSignalled(server: TftpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close({ deadlineMs: 5000 }).then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
