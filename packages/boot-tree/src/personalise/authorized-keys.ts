import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';
import { lookupUser } from './passwd.js';

/**
 * Add SSH public keys to `~user/.ssh/authorized_keys` in a node's root. Owner is the user's numeric
 * uid/gid from the ROOT's /etc/passwd (not the host's); `.ssh` is 0700 and the file 0600, as sshd's
 * StrictModes requires. Existing keys are kept; keys already present are not duplicated. The home
 * directory is resolved inside the node root (NodeTree): a symlinked home leads to the node's own path.
 */
export async function writeAuthorizedKeys(
  root: NodeTree | string,
  user: string,
  keys: readonly string[],
): Promise<boolean> {
  const tree = await NodeTree.from(root);
  const pw = await lookupUser(tree, user);
  if (!pw) {
    throw new BootTreeError(
      'USER_NOT_FOUND',
      `user '${user}' is not in ${tree.root}/etc/passwd: create it first (bakeUser) or use an existing user`,
    );
  }
  const sshDir = `${pw.home}/.ssh`;
  const file = `${sshDir}/authorized_keys`;
  const cur = (await tree.readText(file)) ?? '';
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
  await tree.mkdirp(sshDir, 0o700);
  await tree.chmod(sshDir, 0o700);
  const owner = process.getuid?.() === 0 ? { uid: pw.uid, gid: pw.gid } : {};
  const changed = await tree.writeFile(file, lines.length ? `${lines.join('\n')}\n` : '', {
    mode: 0o600,
    ...owner,
  });
  if (process.getuid?.() === 0) {
    await tree.lchown(sshDir, pw.uid, pw.gid);
    await tree.lchown(file, pw.uid, pw.gid);
  }
  return changed;
}
