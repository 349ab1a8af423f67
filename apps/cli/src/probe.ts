/** Is a TFTP server answering? Asked before a long virtual boot, so a missing server is said at once. */
import { CliError } from './errors.js';
import { loadTftp } from './packages.js';

const PROBE_MS = 3_000;

/**
 * Throws NO_SERVER within ~3 s when nothing answers a TFTP read request on host:port. Any answer
 * (OACK, DATA, or an ERROR such as "file not found") means a server is listening.
 */
export async function requireTftpServer(host: string, port: number): Promise<void> {
  const tftp = await loadTftp();
  try {
    await tftp.probeSize(host, 'bootcode.bin', {
      port,
      retries: 2,
      retransmitMs: 500,
      signal: AbortSignal.timeout(PROBE_MS),
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'REMOTE_ERROR') return;
    throw new CliError(
      'NO_SERVER',
      `no TFTP server answers on ${host}:${port} (asked for ${PROBE_MS / 1000} s): start one with 'sudo bramble serve' (or point --server at yours)`,
    );
  }
}
