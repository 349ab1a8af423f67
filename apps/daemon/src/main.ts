import { ListenAddress, ManifestError } from '@bramble/manifest';
import { Command, Option } from 'commander';
import { BrambledError } from './errors.js';
import { createLogger } from './logger.js';
import { runDaemon } from './run.js';
import { VERSION } from './version.js';

function listenArg(v: string): { address: string; port: number } {
  const r = ListenAddress.safeParse(v);
  if (!r.success) throw new Error(`expected ADDR:PORT, got '${v}'`);
  return r.data;
}

const program = new Command('brambled')
  .description('The Bramble netboot daemon: TFTP, proxyDHCP, discovery and metrics for a cluster of Pis.')
  .version(VERSION, '-V, --version', 'print the version and exit')
  .option('-c, --config <file>', 'the cluster manifest', process.env.BRAMBLE_CONFIG ?? 'bramble.yaml')
  .option('--tftp-listen <addr:port>', "override the manifest's tftp.listen", listenArg)
  .option('--http-listen <addr:port>', "override the manifest's http.listen", listenArg)
  .option('--no-http', 'do not start the HTTP endpoint')
  .option('--no-watch', 'reload only on SIGHUP, not when the manifest file changes')
  .addOption(
    new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']),
  )
  .option('--log-format <fmt>', 'json or pretty (default: pretty on a TTY, JSON otherwise)')
  .addHelpText(
    'after',
    `
Examples:
  brambled -c /etc/bramble/bramble.yaml
  brambled -c bramble.yaml --tftp-listen 127.0.0.1:6969 --http-listen 127.0.0.1:9469
  systemctl enable --now brambled.socket     # unprivileged, socket-activated (UDP 67/69/4011)

Signals: SIGHUP reloads the manifest (a bad one is rejected, the old one keeps serving);
SIGTERM drains transfers in flight and exits.`,
  )
  .exitOverride((err) => {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      process.exit(0);
    process.exit(2);
  })
  .action(
    async (options: {
      config: string;
      tftpListen?: { address: string; port: number };
      httpListen?: { address: string; port: number };
      http: boolean;
      watch: boolean;
      logLevel?: string;
      logFormat?: string;
    }) => {
      const logger = createLogger({
        ...(options.logLevel ? { level: options.logLevel } : {}),
        ...(options.logFormat ? { pretty: options.logFormat === 'pretty' } : {}),
      });
      try {
        await runDaemon({
          manifestPath: options.config,
          logger,
          watch: options.watch,
          ...(options.tftpListen ? { tftpListen: options.tftpListen } : {}),
          ...(options.http
            ? options.httpListen
              ? { httpListen: options.httpListen }
              : {}
            : { httpListen: false }),
        });
        process.exit(0);
      } catch (e) {
        if (e instanceof BrambledError || e instanceof ManifestError) {
          logger.fatal({ code: e.code }, e.message);
          process.stderr.write(`brambled: ${e.message}\n`);
          process.exit(1);
        }
        throw e;
      }
    },
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`brambled: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
