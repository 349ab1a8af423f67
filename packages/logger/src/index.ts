/**
 * The logger every Bramble library accepts: any pino-compatible logger (pino itself, or an adapter over
 * another library). A package never creates or configures one; without it, nothing is logged.
 */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  /** A logger that adds `bindings` to every line (pino's `child`). */
  child(bindings: Record<string, unknown>): Logger;
}

/** Logs nothing: the default when no logger is given. */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
