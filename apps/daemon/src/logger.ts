/** The apps' pino logger: JSON lines by default, pretty on a TTY (never a global one). */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(
  o: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = o.level ?? process.env.BRAMBLE_LOG_LEVEL ?? 'info';
  const dest = o.destination ?? process.stderr;
  const usePretty = o.pretty ?? (Boolean((dest as { isTTY?: boolean }).isTTY) && !process.env.NO_COLOR);
  if (usePretty)
    return pino(
      { level },
      pretty({
        destination: dest,
        colorize: true,
        sync: true,
        ignore: 'pid,hostname,event,component',
        translateTime: 'HH:MM:ss',
      }),
    );
  return pino({ level }, dest);
}
