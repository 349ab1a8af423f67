/**
 * In-process SSH host keys (openssh-key.ts) against OpenSSH itself: ssh-keygen reads each private key
 * (-y derives the same public key, -l the same fingerprint and size as the .pub), and sshd loads all
 * three as host keys and serves them to ssh-keyscan on loopback.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, isRoot, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKeys, generateOpenSshKeyPair, type HostKeyType, NodeTree } from '../src/index.js';

let work: string;
const TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];
const BITS: Record<HostKeyType, string> = { ed25519: '256', ecdsa: '256', rsa: '3072' };
const NAMES: Record<HostKeyType, string> = {
  ed25519: 'ssh-ed25519',
  ecdsa: 'ecdsa-sha2-nistp256',
  rsa: 'ssh-rsa',
};

beforeAll(async () => {
  requireTool('ssh-keygen');
  work = await mkdtemp(join(tmpdir(), 'bramble-hostkeys-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeKey(type: HostKeyType, comment: string): Promise<{ file: string; pub: string }> {
  const pair = await generateOpenSshKeyPair(type, comment);
  const file = join(work, `${type}-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, pair.key, { mode: 0o600 });
  await writeFile(`${file}.pub`, pair.pub);
  return { file, pub: pair.pub.toString() };
}

describe('generateOpenSshKeyPair', () => {
  it.each(TYPES)(
    '%s: ssh-keygen -y derives the .pub, -l reports its size and fingerprint',
    async (type) => {
      const { file, pub } = await writeKey(type, 'root@node7');
      expect(pub).toMatch(new RegExp(`^${NAMES[type]} [A-Za-z0-9+/=]+ root@node7\\n$`));
      const derived = await execa('ssh-keygen', ['-y', '-f', file]);
      expect(derived.stdout.trim().split(' ').slice(0, 2)).toEqual(pub.trim().split(' ').slice(0, 2));
      const fromKey = await execa('ssh-keygen', ['-l', '-f', file]);
      const fromPub = await execa('ssh-keygen', ['-l', '-f', `${file}.pub`]);
      expect(fromKey.stdout.split(' ')[0]).toBe(BITS[type]);
      expect(fromKey.stdout.split(' ')[1]).toBe(fromPub.stdout.split(' ')[1]);
      expect(fromKey.stdout).toContain('root@node7'); // the comment is in the private key too
      // ssh-keygen rewrites the key (new comment) only if it can parse all of it, padding and check ints.
      await execa('ssh-keygen', ['-c', '-C', 'rewritten', '-f', file]);
      expect((await execa('ssh-keygen', ['-l', '-f', file])).stdout).toContain('rewritten');
    },
    60_000,
  );

  it('rsa: OpenSSL checks the whole private key (p·q = n, d, CRT values) after ssh-keygen converts it to PEM', async () => {
    requireTool('openssl');
    for (let i = 0; i < 3; i++) {
      const { file } = await writeKey('rsa', 'root@node7');
      await execa('ssh-keygen', ['-p', '-m', 'PEM', '-P', '', '-N', '', '-f', file]);
      const check = await execa('openssl', ['rsa', '-check', '-noout', '-in', file], { reject: false });
      expect(check.stdout).toContain('RSA key ok');
      expect(check.exitCode).toBe(0);
      const text = await execa('openssl', ['rsa', '-text', '-noout', '-in', file]);
      expect(text.stdout).toMatch(/Private-Key: \(3072 bit, 2 primes\)/);
      expect(text.stdout).toMatch(/publicExponent: 65537 /);
    }
  }, 120_000);

  it('makes a different key every time', async () => {
    const [a, b] = await Promise.all([
      generateOpenSshKeyPair('ed25519', 'x'),
      generateOpenSshKeyPair('ed25519', 'x'),
    ]);
    expect(a.pub.equals(b.pub)).toBe(false);
    expect(a.key.equals(b.key)).toBe(false);
  });

  it('refuses a comment with a line break', async () => {
    await expect(generateOpenSshKeyPair('ed25519', 'a\nb')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('generateHostKeys', () => {
  it('writes the three key pairs with ssh-keygen-style modes, keeps them on a re-run', async () => {
    const root = join(work, 'root');
    await mkdir(join(root, 'etc/ssh'), { recursive: true });
    const tree = await NodeTree.open(root);
    const made = await generateHostKeys(tree, { hostname: 'n1' });
    expect(made.sort()).toEqual(TYPES.map((t) => `/etc/ssh/ssh_host_${t}_key`).sort());
    const before = await readFile(join(root, 'etc/ssh/ssh_host_rsa_key'));
    expect((await tree.lstat('/etc/ssh/ssh_host_rsa_key'))?.mode ?? 0).toSatisfy(
      (mode: number) => (mode & 0o777) === 0o600,
    );
    expect(await generateHostKeys(tree, { hostname: 'n1' })).toEqual([]);
    expect((await readFile(join(root, 'etc/ssh/ssh_host_rsa_key'))).equals(before)).toBe(true);
  }, 60_000);

  it.skipIf(!isRoot())(
    'sshd loads the keys and serves them to ssh-keyscan',
    async () => {
      const sshd = requireTool('sshd');
      requireTool('ssh-keyscan');
      const keys = await Promise.all(TYPES.map((t) => writeKey(t, 'root@n1')));
      // sshd's privilege separation directory (made by its Debian package's service, absent in containers).
      await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
      const config = join(work, 'sshd_config');
      await writeFile(config, `${keys.map((k) => `HostKey ${k.file}`).join('\n')}\nPidFile none\n`);
      expect((await execa(sshd, ['-t', '-f', config], { reject: false })).stderr).toBe('');
      const port = await freeTcpPort();
      const peer = startPeer([
        sshd,
        '-D',
        '-e',
        '-f',
        config,
        '-p',
        String(port),
        '-o',
        'ListenAddress=127.0.0.1',
      ]);
      try {
        let scanned = '';
        await waitFor(
          async () => {
            const r = await execa(
              'ssh-keyscan',
              ['-T', '5', '-p', String(port), '-t', 'rsa,ecdsa,ed25519', '127.0.0.1'],
              {
                reject: false,
                timeout: 20_000,
              },
            );
            scanned = r.stdout;
            return scanned.split('\n').filter((l) => l.startsWith('[127.0.0.1]')).length === 3;
          },
          30_000,
          300,
        );
        for (const k of keys) {
          const [name, blob] = k.pub.split(' ');
          expect(scanned).toContain(`[127.0.0.1]:${port} ${name} ${blob}`);
        }
        expect(peer.output()).not.toMatch(/could not load|invalid format|error/i);
      } finally {
        await peer.stop();
      }
    },
    90_000,
  );
});
