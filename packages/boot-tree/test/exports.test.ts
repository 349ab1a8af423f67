import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyKernelExports,
  composeFile,
  composeWarnings,
  type ExportNode,
  exportsFile,
  ganeshaConfig,
} from '../src/index.js';

const nodes: ExportNode[] = [
  {
    hostname: 'node1',
    address: '10.0.0.11',
    rootPath: '/srv/bramble/nfs/node1',
    bootPath: '/srv/bramble/tftp/d9780558',
    nfsVersion: '3',
    usesInitramfs: true,
  },
  {
    hostname: 'node2',
    address: '10.0.0.12',
    rootPath: '/srv/bramble/nfs/node2',
    bootPath: '/srv/bramble/tftp/0660cd37',
    nfsVersion: '4.1',
    usesInitramfs: false,
  },
];

describe('/etc/exports', () => {
  it('scopes each export to its node with rw,sync,no_subtree_check,no_root_squash and a stable fsid', () => {
    const text = exportsFile(nodes);
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      expect(l).toMatch(
        /^\/srv\/bramble\/\S+ 10\.0\.0\.1[12]\(rw,sync,no_subtree_check,no_root_squash,fsid=\d+\)$/,
      );
      expect(l).not.toContain('*');
    }
    expect(text).toContain('/srv/bramble/nfs/node1 10.0.0.11(');
    expect(text).toContain('/srv/bramble/tftp/0660cd37 10.0.0.12(');
    const fsids = lines.map((l) => /fsid=(\d+)/.exec(l)![1]);
    expect(new Set(fsids).size).toBe(4);
    // stable: same path → same fsid, independent of the other nodes
    const alone = exportsFile([nodes[0]!]);
    expect(alone).toContain(/\/srv\/bramble\/nfs\/node1 \S+/.exec(text)![0]);
  });
  it('refuses to export to everyone unless asked', () => {
    const noAddr = [{ ...nodes[0]!, address: undefined }];
    expect(() => exportsFile(noAddr)).toThrowError(expect.objectContaining({ code: 'NO_CLIENT_ADDRESS' }));
    expect(exportsFile(noAddr, { defaultClients: '10.0.0.0/24' })).toContain(' 10.0.0.0/24(rw,');
    expect(exportsFile(noAddr, { allowAnyClient: true })).toContain(' *(rw,');
  });
  it('applyKernelExports writes the exports.d file; without exportfs it reports no reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bt-exp-'));
    try {
      const r = await applyKernelExports(nodes, {
        file: join(dir, 'bramble.exports'),
        exportfs: join(dir, 'no-exportfs'),
      });
      expect(r.reloaded).toBe(false);
      expect(await readFile(r.file, 'utf8')).toBe(exportsFile(nodes));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ganesha.conf', () => {
  it('one EXPORT per exported directory for NFSv3 and v4, client-scoped, no root squash', () => {
    const conf = ganeshaConfig(nodes, { graceless: true });
    const exports = conf.split('EXPORT {').slice(1);
    expect(exports).toHaveLength(4);
    for (const e of exports) {
      expect(e).toContain('Protocols = 3, 4;');
      expect(e).toContain('Squash = No_Root_Squash;');
      expect(e).toMatch(/Name = VFS;/);
      expect(e).toMatch(/Clients = 10\.0\.0\.1[12];/);
      const path = /Path = "([^"]+)";/.exec(e)![1];
      expect(e).toContain(`Pseudo = "${path}";`);
    }
    const ids = [...conf.matchAll(/Export_Id = (\d+);/g)].map((m) => Number(m[1]));
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toBeGreaterThan(1);
    expect(conf).toContain('Graceless = true;');
  });
});

describe('docker-compose.yaml', () => {
  it('mirrors the original TFTP + NFSv4 containers and warns about v3/initramfs nodes', () => {
    const text = composeFile(nodes, { tftpRoot: '/srv/bramble/tftp', nfsRoot: '/srv/bramble/nfs' });
    const doc = parse(text) as {
      services: Record<string, { image: string; volumes: string[]; ports: string[] }>;
    };
    expect(doc.services.tftp!.image).toBe('pghalliday/tftp:latest');
    expect(doc.services.tftp!.ports).toEqual(['69:69/udp']);
    expect(doc.services.nfs!.image).toBe('itsthenetwork/nfs-server-alpine:12');
    expect(doc.services.nfs!.volumes).toContain('/srv/bramble/nfs:/share/srv/bramble/nfs');
    const warnings = composeWarnings(nodes);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^node1: uses NFSv3.*NFSv4-only/);
    expect(text).toContain('# WARNINGS:');
    expect(composeWarnings([nodes[1]!])).toEqual([]);
  });
});
