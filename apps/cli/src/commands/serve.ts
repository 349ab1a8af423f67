import { ListenAddress } from '@bramble/manifest';
import { createLogger, runDaemon } from 'brambled';
import type { Command } from 'commander';
import { globals } from '../context.js';
import { UsageError } from '../errors.js';

function listen(v: string | undefined) {
  if (v === undefined) return undefined;
  const r = ListenAddress.safeParse(v);
  if (!r.success) throw new UsageError(`expected ADDR:PORT, got '${v}'`);
  return r.data;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the daemon (brambled) in the foreground: TFTP, proxyDHCP, discovery, metrics')
    .option('--tftp-listen <addr:port>', "override the manifest's tftp.listen")
    .option('--http-listen <addr:port>', "override the manifest's http.listen")
    .option('--no-watch', 'reload only on SIGHUP')
    .addHelpText(
      'after',
      `
Examples:
  sudo bramble serve
  bramble serve --tftp-listen 127.0.0.1:6969 --http-listen 127.0.0.1:9469

SIGHUP (or editing the manifest) reloads; Ctrl-C / SIGTERM drains transfers and exits.`,
    )
    .action(async (options: { tftpListen?: string; httpListen?: string; watch: boolean }, cmd: Command) => {
      const globalOptions = globals(cmd);
      const logger = createLogger({
        level: globalOptions.verbose ? 'debug' : globalOptions.quiet ? 'warn' : 'info',
      });
      const tftpListen = listen(options.tftpListen);
      const httpListen = listen(options.httpListen);
      await runDaemon({
        manifestPath: globalOptions.config,
        logger,
        watch: options.watch,
        ...(tftpListen ? { tftpListen } : {}),
        ...(httpListen ? { httpListen } : {}),
      });
    });
}
