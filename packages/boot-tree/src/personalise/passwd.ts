/**
 * passwd(5)/group(5)/shadow(5) tables of a node root, read through NodeTree, and the checks on their
 * fields: an image's passwd is hostile input, so a home directory, uid or name is validated before it
 * is used as a path, an owner or a pattern.
 */
import { BootTreeError } from '../errors.js';
import type { NodeTree } from '../node-tree.js';

export type Table = string[][];

export const parseTable = (text: string | undefined): Table =>
  (text ?? '')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split(':'));

export const unparseTable = (table: Table): string =>
  table.map((fields) => fields.join(':')).join('\n') + (table.length ? '\n' : '');

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Largest uid/gid (2^32 - 2: (uid_t)-1 means "unchanged" to chown(2)). */
const MAX_ID = 4_294_967_294;

/** A numeric uid/gid field of the image's tables, or UNSAFE_IMAGE. */
export function checkId(value: string | undefined, what: string): number {
  if (value === undefined || !/^\d{1,10}$/.test(value) || Number(value) > MAX_ID) {
    throw new BootTreeError('UNSAFE_IMAGE', `${what} '${value ?? ''}' in the image is not a numeric id`);
  }
  return Number(value);
}

/**
 * A home directory field of the image's passwd, checked before it is used as a path in the node root:
 * absolute, normalised (no `.`/`..` components, no empty components), no NUL, at most 4096 bytes.
 * Symlinks along it are then resolved inside the tree by NodeTree.
 */
export function checkHome(home: string | undefined, user: string): string {
  const h = home ?? '';
  const parts = h.split('/').slice(1);
  const normal =
    h.startsWith('/') &&
    h.length <= 4096 &&
    !h.includes('\0') &&
    (h === '/' || parts.every((p) => p !== '' && p !== '.' && p !== '..'));
  if (!normal) {
    throw new BootTreeError(
      'UNSAFE_IMAGE',
      `the image's /etc/passwd gives user '${user}' the home directory '${h.slice(0, 200)}': not a normalised absolute path, refusing to use it`,
    );
  }
  return h;
}

/** Escape a name from the image for use inside a RegExp. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Look a user up in the node root's /etc/passwd (never the host's), with its fields checked. */
export async function lookupUser(tree: NodeTree, user: string): Promise<PasswdEntry | undefined> {
  const row = parseTable(await tree.readText('/etc/passwd')).find((r) => r[0] === user && r.length >= 7);
  if (!row) return undefined;
  return {
    name: user,
    uid: checkId(row[2], `uid of '${user}'`),
    gid: checkId(row[3], `gid of '${user}'`),
    home: checkHome(row[5], user),
    shell: row[6] ?? '',
  };
}
