/**
 * Run the daemon in the foreground until SIGTERM/SIGINT: SIGHUP reloads the manifest,
 * SIGTERM drains transfers in flight and resolves. Used by `brambled` and `bramble serve`.
 */
import type { Logger } from 'pino';
import { type Daemon, type DaemonOptions, startDaemon } from './daemon.js';
import { activatedSockets, listenFds } from './systemd.js';

export interface RunOptions extends Omit<DaemonOptions, 'sockets'> {
  logger: Logger;
  /** Called once the daemon is up (e.g. to print where it listens). */
  onReady?: (d: Daemon) => void;
  drainDeadlineMs?: number;
}

export async function runDaemon(options: RunOptions): Promise<void> {
  const fds = listenFds();
  const sockets = fds.length > 0 ? await activatedSockets(fds) : undefined;
  if (sockets)
    options.logger.info(
      { event: 'socket-activation', fds: fds.length, roles: Object.keys(sockets) },
      `socket activation: ${Object.keys(sockets).join(', ')}`,
    );
  const daemon = await startDaemon({ ...options, ...(sockets ? { sockets } : {}) });
  options.onReady?.(daemon);
  await new Promise<void>((resolve) => {
    const onHup = () => {
      void daemon.reload('SIGHUP');
    };
    const onStop = (sig: string) => {
      options.logger.info({ event: 'signal', signal: sig }, `${sig}: stopping`);
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      void daemon.close({ deadlineMs: options.drainDeadlineMs ?? 10_000 }).then(resolve);
    };
    const onTerm = () => onStop('SIGTERM');
    const onInt = () => onStop('SIGINT');
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
