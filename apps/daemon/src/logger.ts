/** The apps' pino logger: JSON lines by default, pretty on a TTY (never a global one). */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(
  options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env.BRAMBLE_LOG_LEVEL ?? 'info';
  const dest = options.destination ?? process.stderr;
  const usePretty = options.pretty ?? (Boolean((dest as { isTTY?: boolean }).isTTY) && !process.env.NO_COLOR);
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
