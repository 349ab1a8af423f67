import { chown, cp, mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { ensureSymlink, exists, readTextIfExists, removeIfExists, writeText } from '../fs-util.js';
import { disableUnit, findUnit } from './systemd.js';

type Table = string[][];
const parse = (t: string | undefined): Table =>
  (t ?? '')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split(':'));

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
export async function storedHash(rootDir: string, user: string): Promise<string | undefined> {
  const t = await readTextIfExists(join(rootDir, 'etc/shadow'));
  const row = parse(t).find((r) => r[0] === user);
  const h = row?.[1];
  return h?.startsWith('$') ? h : undefined;
}

/** The user's hash in a boot directory's userconf.txt, if any. */
export async function userconfHash(bootDir: string, user: string): Promise<string | undefined> {
  const t = await readTextIfExists(join(bootDir, 'userconf.txt'));
  const line = t?.split('\n')[0] ?? '';
  const i = line.indexOf(':');
  return i > 0 && line.slice(0, i) === user ? line.slice(i + 1).trim() : undefined;
}

/** userconf.txt for a node's boot directory: `user:hash` (consumed by userconfig.service on first boot). */
export function userconfText(user: string, passwordHash: string): string {
  return `${user}:${passwordHash}\n`;
}

export async function writeUserconf(
  nodeBootDir: string,
  user: string,
  passwordHash: string,
): Promise<boolean> {
  return writeText(join(nodeBootDir, 'userconf.txt'), userconfText(user, passwordHash), 0o600);
}

const unparse = (t: Table): string => t.map((f) => f.join(':')).join('\n') + (t.length ? '\n' : '');

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
 * Write a login user into the root's passwd/shadow/group offline, the way userconf-pi does on first boot:
 * an existing user gets the new hash; otherwise the uid-1000 first user (pi-gen's placeholder) is renamed
 * (name, group, home, sudoers), or a new uid ≥ 1000 user in the `sudo` and `users` groups is created.
 * Then the first-boot rename wizard is cancelled (userconfig.service disabled, getty@tty1 enabled,
 * sshd rename banner removed), as `cancel-rename` does.
 */
export async function bakeUser(
  rootDir: string,
  o: { user: string; passwordHash?: string | undefined },
): Promise<string[]> {
  const changed: string[] = [];
  const p = (f: string) => join(rootDir, 'etc', f);
  const passwd = parse(await readTextIfExists(p('passwd')));
  const shadowText = await readTextIfExists(p('shadow'));
  const shadow = parse(shadowText);
  const group = parse(await readTextIfExists(p('group')));
  const gshadowText = await readTextIfExists(p('gshadow'));
  const gshadow = parse(gshadowText);
  if (passwd.length === 0) {
    throw new BootTreeError(
      'NOT_FOUND',
      `no etc/passwd in '${rootDir}': is this an extracted root file system?`,
    );
  }
  const hash = o.passwordHash ?? '!';
  let entry = passwd.find((r) => r[0] === o.user);
  if (!entry) {
    const first = passwd.find((r) => r[2] === '1000');
    if (first) {
      const old = first[0]!;
      first[0] = o.user;
      const oldHome = first[5]!;
      first[5] = `/home/${o.user}`;
      for (const r of shadow) if (r[0] === old) r[0] = o.user;
      renameMembers(group, 3, old, o.user);
      renameMembers(gshadow, 3, old, o.user);
      const from = join(rootDir, oldHome);
      const to = join(rootDir, first[5]);
      if (oldHome !== first[5] && (await exists(from)) && !(await exists(to))) await rename(from, to);
      const sudoersDir = join(rootDir, 'etc/sudoers.d');
      for (const f of await readdir(sudoersDir).catch(() => [] as string[])) {
        const t = await readTextIfExists(join(sudoersDir, f));
        if (t && new RegExp(`^${old}\\s`, 'm').test(t)) {
          await writeText(
            join(sudoersDir, f),
            t.replace(new RegExp(`^${old}(\\s)`, 'gm'), `${o.user}$1`),
            0o440,
          );
        }
      }
      changed.push(`renamed first user ${old} → ${o.user}`);
    } else {
      const uids = new Set(passwd.map((r) => Number(r[2])));
      const gids = new Set(group.map((r) => Number(r[2])));
      let id = 1000;
      while ((uids.has(id) || gids.has(id)) && id < 60000) id++;
      passwd.push([o.user, 'x', String(id), String(id), '', `/home/${o.user}`, '/bin/bash']);
      group.push([o.user, 'x', String(id), '']);
      if (gshadowText !== undefined) gshadow.push([o.user, '!', '', '']);
      for (const g of ['sudo', 'users']) {
        const row = group.find((r) => r[0] === g);
        if (row) {
          const members = (row[3] ?? '').split(',').filter(Boolean);
          if (!members.includes(o.user)) row[3] = [...members, o.user].join(',');
        }
      }
      changed.push(`created user ${o.user} (uid ${id})`);
    }
    entry = passwd.find((r) => r[0] === o.user)!;
  }
  let srow = shadow.find((r) => r[0] === o.user);
  if (!srow) {
    srow = [o.user, hash, String(Math.floor(Date.now() / 86_400_000)), '0', '99999', '7', '', '', ''];
    shadow.push(srow);
  } else if (o.passwordHash !== undefined) {
    srow[1] = o.passwordHash;
  }
  if (await writeText(p('passwd'), unparse(passwd))) changed.push('/etc/passwd');
  if (await writeText(p('shadow'), unparse(shadow), shadowText === undefined ? 0o640 : undefined))
    changed.push('/etc/shadow');
  if (await writeText(p('group'), unparse(group))) changed.push('/etc/group');
  if (gshadowText !== undefined && (await writeText(p('gshadow'), unparse(gshadow)))) {
    changed.push('/etc/gshadow');
  }
  const home = join(rootDir, entry[5]!);
  if (!(await exists(home))) {
    await mkdir(home, { recursive: true, mode: 0o755 });
    if (await exists(join(rootDir, 'etc/skel')))
      await cp(join(rootDir, 'etc/skel'), home, { recursive: true });
    if (process.getuid?.() === 0) await chown(home, Number(entry[2]), Number(entry[3]));
    changed.push(entry[5]!);
  }
  // cancel-rename (userconf-pi): no first-boot rename wizard on a node whose user is already set up.
  if (await disableUnit(rootDir, 'userconfig.service')) changed.push('disabled userconfig.service');
  if (await removeIfExists(join(rootDir, 'etc/ssh/sshd_config.d/rename_user.conf'))) {
    changed.push('removed sshd rename banner');
  }
  const getty = await findUnit(rootDir, 'getty@.service');
  if (
    getty &&
    (await ensureSymlink(getty, join(rootDir, 'etc/systemd/system/getty.target.wants/getty@tty1.service')))
  ) {
    changed.push('enabled getty@tty1');
  }
  return changed;
}
