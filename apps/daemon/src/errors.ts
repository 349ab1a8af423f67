/** Base error of brambled; `code` is stable and meant for programs, the message for people. */
export class BrambledError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A port below 1024 cannot be bound: not root, no CAP_NET_BIND_SERVICE, no socket activation. */
export class PrivilegeError extends BrambledError {
  constructor(message: string) {
    super('NEEDS_PRIVILEGE', message);
  }
}
