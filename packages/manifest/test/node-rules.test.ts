/**
 * A manifest node is boot-tree's NodeSpec: where the two schemas disagreed, the stricter NodeSpec
 * rule now applies to bramble.yaml too (the daemon used to accept these).
 */
import { NodeSpec } from '@bramble/boot-tree';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifestText, toNodeSpec } from '../src/index.js';

const manifestWith = (node: string) => `server: { address: 10.0.0.1 }
images: { img: ./img.xz }
nodes:
  - { hostname: rpi-a, serial: 7a1b2c3d, image: img, ${node} }
`;

function problemsOf(text: string): string[] {
  try {
    parseManifestText(text);
  } catch (e) {
    if (e instanceof ManifestError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('manifest nodes follow NodeSpec', () => {
  it('refuses a root login user', () => {
    expect(problemsOf(manifestWith('user: { name: root }'))).toEqual([
      'nodes[0].user.name: user must not be root',
    ]);
  });

  it('refuses a user name NodeSpec refuses (leading underscore)', () => {
    expect(problemsOf(manifestWith('user: { name: _admin }'))).toEqual([
      'nodes[0].user.name: user must match ^[a-z][a-z0-9-]*$ (at most 32 characters)',
    ]);
  });

  it('refuses a password hash that is not a $6$/$5$/$y$ crypt hash', () => {
    for (const hash of ['$1$md5salt$x', '$', '$6$ space'])
      expect(problemsOf(manifestWith(`user: { name: pi, passwordHash: '${hash}' }`))).toEqual([
        'nodes[0].user.passwordHash: passwordHash must be a crypt hash like $6$salt$hash (openssl passwd -6)',
      ]);
  });

  it("applies NodeSpec's cross-field rules (tftpPrefix mac needs a mac)", () => {
    expect(problemsOf(manifestWith('tftpPrefix: mac'))).toEqual([
      "nodes[0].serial: tftpPrefix 'mac' needs mac",
    ]);
  });

  it('turns a valid manifest node into a NodeSpec boot-tree accepts', () => {
    const manifest = parseManifestText(
      manifestWith("user: { name: pi, passwordHash: '$6$salt$hash' }, sshKeys: ['ssh-ed25519 AAAA me']"),
    );
    const node = manifest.nodes[0];
    if (!node) throw new Error('no node');
    expect(NodeSpec.parse(toNodeSpec(node))).toEqual({
      hostname: 'rpi-a',
      serial: '7a1b2c3d',
      image: 'img',
      user: 'pi',
      passwordHash: '$6$salt$hash',
      sshKeys: ['ssh-ed25519 AAAA me'],
    });
  });
});
