import { chmod, chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BootTreeError } from '../errors.js';
import { inside, lookupUser, readTextIfExists, writeText } from '../fs-util.js';

/**
 * Add SSH public keys to `~user/.ssh/authorized_keys` in a node's root. Owner is the user's numeric
 * uid/gid from the ROOT's /etc/passwd (not the host's); `.ssh` is 0700 and the file 0600, as sshd's
 * StrictModes requires. Existing keys are kept; keys already present are not duplicated.
 */
export async function writeAuthorizedKeys(
  rootDir: string,
  user: string,
  keys: readonly string[],
): Promise<boolean> {
  const pw = await lookupUser(rootDir, user);
  if (!pw) {
    throw new BootTreeError(
      'USER_NOT_FOUND',
      `user '${user}' is not in ${join(rootDir, 'etc/passwd')}: create it first (bakeUser) or use an existing user`,
    );
  }
  const sshDir = inside(rootDir, join(pw.home, '.ssh'));
  const file = join(sshDir, 'authorized_keys');
  const cur = (await readTextIfExists(file)) ?? '';
  const lines = cur.split('\n').filter((l) => l.trim() !== '');
  const have = new Set(lines.map((l) => l.trim()));
  for (const k of keys) {
    const key = k.trim();
    if (/[\r\n]/.test(key)) throw new BootTreeError('INVALID_INPUT', 'an SSH key must be a single line');
    if (!have.has(key)) {
      lines.push(key);
      have.add(key);
    }
  }
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  await chmod(sshDir, 0o700);
  const changed = await writeText(file, lines.length ? `${lines.join('\n')}\n` : '', 0o600);
  if (process.getuid?.() === 0) {
    await chown(sshDir, pw.uid, pw.gid);
    await chown(file, pw.uid, pw.gid);
  }
  return changed;
}
