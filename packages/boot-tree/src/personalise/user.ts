import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';
import {
  checkHome,
  checkId,
  escapeRegExp,
  parseTable as parse,
  type Table,
  unparseTable as unparse,
} from './passwd.js';
import { disableUnit, findUnit } from './systemd.js';

/**
 * SHA-512 crypt (`$6$…`) of a plain password, made by `openssl passwd -6 -stdin` (the tool Raspberry Pi's
 * docs name for userconf.txt), falling back to `mkpasswd -m sha-512 -s`.
 */
export async function hashPassword(password: string): Promise<string> {
  if (/[\n\r]/.test(password)) throw new BootTreeError('INVALID_INPUT', 'password must be a single line');
  const attempts: [string, string[]][] = [
    ['openssl', ['passwd', '-6', '-stdin']],
    ['mkpasswd', ['-m', 'sha-512', '-s']],
  ];
  for (const [cmd, args] of attempts) {
    const r = await execa(cmd, args, { input: `${password}\n`, reject: false, timeout: 10_000 });
    const out = r.stdout.trim();
    if (r.exitCode === 0 && /^\$6\$[^\s:]+$/.test(out)) return out;
  }
  throw new BootTreeError('TOOL_MISSING', 'cannot hash the password: install openssl or mkpasswd (whois)');
}

/** True when `hash` (`$6$[rounds=N$]salt$…`) is the SHA-512 crypt of `password` (checked with openssl). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = /^\$6\$(rounds=\d+\$)?([^$]+)\$/.exec(hash);
  if (!m || m[1] || /[\n\r]/.test(password)) return false;
  const r = await execa('openssl', ['passwd', '-6', '-salt', m[2]!, '-stdin'], {
    input: `${password}\n`,
    reject: false,
    timeout: 10_000,
  }).catch(() => undefined);
  return r?.exitCode === 0 && r.stdout.trim() === hash;
}

/** The user's hash in the root's /etc/shadow, if any. */
export async function storedHash(root: NodeTree | string, user: string): Promise<string | undefined> {
  const tree = await NodeTree.from(root);
  const row = parse(await tree.readText('/etc/shadow')).find((r) => r[0] === user);
  const h = row?.[1];
  return h?.startsWith('$') ? h : undefined;
}

/** The user's hash in a boot directory's userconf.txt, if any. */
export async function userconfHash(boot: NodeTree | string, user: string): Promise<string | undefined> {
  const tree = await NodeTree.from(boot);
  const t = await tree.readText('/userconf.txt');
  const line = t?.split('\n')[0] ?? '';
  const i = line.indexOf(':');
  return i > 0 && line.slice(0, i) === user ? line.slice(i + 1).trim() : undefined;
}

/** userconf.txt for a node's boot directory: `user:hash` (consumed by userconfig.service on first boot). */
export function userconfText(user: string, passwordHash: string): string {
  return `${user}:${passwordHash}\n`;
}

export async function writeUserconf(
  nodeBoot: NodeTree | string,
  user: string,
  passwordHash: string,
): Promise<boolean> {
  const tree = await NodeTree.from(nodeBoot);
  return tree.writeFile('/userconf.txt', userconfText(user, passwordHash), { mode: 0o600 });
}

function renameMembers(rows: Table, col: number, from: string, to: string): void {
  for (const r of rows) {
    if (r[0] === from) r[0] = to;
    const m = r[col];
    if (m !== undefined && m !== '') {
      r[col] = m
        .split(',')
        .map((x) => (x === from ? to : x))
        .join(',');
    }
  }
}

/**
 * Move the renamed first user's home (`/home/pi` → `/home/alice`) inside the node root. Not moved when
 * the old home is `/`, the new home is inside it, it is not a directory, or the new home already exists.
 */
async function moveHome(tree: NodeTree, oldHome: string, newHome: string): Promise<void> {
  if (oldHome === newHome || oldHome === '/' || newHome.startsWith(`${oldHome}/`)) return;
  const st = await tree.lstat(oldHome);
  if (!st?.isDirectory() || (await tree.exists(newHome))) return;
  await tree.rename(oldHome, newHome);
}

/** Rename the old first user in /etc/sudoers.d drop-ins (the name is matched literally). */
async function renameInSudoers(tree: NodeTree, from: string, to: string): Promise<void> {
  const name = escapeRegExp(from);
  for (const e of await tree.readdir('/etc/sudoers.d')) {
    if (!e.isFile()) continue;
    const path = `/etc/sudoers.d/${e.name}`;
    const t = await tree.readText(path);
    if (t && new RegExp(`^${name}\\s`, 'm').test(t)) {
      await tree.writeFile(path, t.replace(new RegExp(`^${name}(\\s)`, 'gm'), `${to}$1`), { mode: 0o440 });
    }
  }
}

/**
 * Write a login user into the root's passwd/shadow/group offline, the way userconf-pi does on first boot:
 * an existing user gets the new hash; otherwise the uid-1000 first user (pi-gen's placeholder) is renamed
 * (name, group, home, sudoers), or a new uid ≥ 1000 user in the `sudo` and `users` groups is created.
 * Then the first-boot rename wizard is cancelled (userconfig.service disabled, getty@tty1 enabled,
 * sshd rename banner removed), as `cancel-rename` does. Every path goes through NodeTree; the image's
 * home/uid/gid fields are checked (UNSAFE_IMAGE) before they are used.
 */
export async function bakeUser(
  root: NodeTree | string,
  options: { user: string; passwordHash?: string | undefined },
): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const changed: string[] = [];
  const p = (f: string) => `/etc/${f}`;
  const passwd = parse(await tree.readText(p('passwd')));
  const shadowText = await tree.readText(p('shadow'));
  const shadow = parse(shadowText);
  const group = parse(await tree.readText(p('group')));
  const gshadowText = await tree.readText(p('gshadow'));
  const gshadow = parse(gshadowText);
  if (passwd.length === 0) {
    throw new BootTreeError(
      'NOT_FOUND',
      `no etc/passwd in '${tree.root}': is this an extracted root file system?`,
    );
  }
  const hash = options.passwordHash ?? '!';
  let entry = passwd.find((r) => r[0] === options.user);
  if (!entry) {
    const first = passwd.find((r) => r[2] === '1000');
    if (first) {
      const old = first[0]!;
      const oldHome = checkHome(first[5], old);
      first[0] = options.user;
      first[5] = `/home/${options.user}`;
      for (const r of shadow) if (r[0] === old) r[0] = options.user;
      renameMembers(group, 3, old, options.user);
      renameMembers(gshadow, 3, old, options.user);
      await moveHome(tree, oldHome, first[5]);
      await renameInSudoers(tree, old, options.user);
      changed.push(`renamed first user ${old} → ${options.user}`);
    } else {
      const uids = new Set(passwd.map((r) => Number(r[2])));
      const gids = new Set(group.map((r) => Number(r[2])));
      let id = 1000;
      while ((uids.has(id) || gids.has(id)) && id < 60000) id++;
      passwd.push([options.user, 'x', String(id), String(id), '', `/home/${options.user}`, '/bin/bash']);
      group.push([options.user, 'x', String(id), '']);
      if (gshadowText !== undefined) gshadow.push([options.user, '!', '', '']);
      for (const g of ['sudo', 'users']) {
        const row = group.find((r) => r[0] === g);
        if (row) {
          const members = (row[3] ?? '').split(',').filter(Boolean);
          if (!members.includes(options.user)) row[3] = [...members, options.user].join(',');
        }
      }
      changed.push(`created user ${options.user} (uid ${id})`);
    }
    entry = passwd.find((r) => r[0] === options.user)!;
  }
  const uid = checkId(entry[2], `uid of '${options.user}'`);
  const gid = checkId(entry[3], `gid of '${options.user}'`);
  const home = checkHome(entry[5], options.user);
  let srow = shadow.find((r) => r[0] === options.user);
  if (!srow) {
    srow = [options.user, hash, String(Math.floor(Date.now() / 86_400_000)), '0', '99999', '7', '', '', ''];
    shadow.push(srow);
  } else if (options.passwordHash !== undefined) {
    srow[1] = options.passwordHash;
  }
  if (await tree.writeFile(p('passwd'), unparse(passwd))) changed.push('/etc/passwd');
  if (await tree.writeFile(p('shadow'), unparse(shadow), shadowText === undefined ? { mode: 0o640 } : {}))
    changed.push('/etc/shadow');
  if (await tree.writeFile(p('group'), unparse(group))) changed.push('/etc/group');
  if (gshadowText !== undefined && (await tree.writeFile(p('gshadow'), unparse(gshadow)))) {
    changed.push('/etc/gshadow');
  }
  if (!(await tree.exists(home))) {
    await tree.mkdirp(home, 0o755);
    if ((await tree.stat('/etc/skel'))?.isDirectory()) await tree.copyTree('/etc/skel', home, { uid, gid });
    if (process.getuid?.() === 0) await tree.lchown(home, uid, gid);
    changed.push(home);
  }
  // cancel-rename (userconf-pi): no first-boot rename wizard on a node whose user is already set up.
  if (await disableUnit(tree, 'userconfig.service')) changed.push('disabled userconfig.service');
  if (await tree.remove('/etc/ssh/sshd_config.d/rename_user.conf')) {
    changed.push('removed sshd rename banner');
  }
  const getty = await findUnit(tree, 'getty@.service');
  if (getty && (await tree.symlink(getty, '/etc/systemd/system/getty.target.wants/getty@tty1.service'))) {
    changed.push('enabled getty@tty1');
  }
  return changed;
}
