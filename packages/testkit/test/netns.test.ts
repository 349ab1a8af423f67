import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { createVethPair, isRoot, type VethLink } from '../src/index.js';

describe.runIf(isRoot())('createVethPair', () => {
  let link: VethLink | undefined;
  afterEach(async () => {
    await link?.destroy();
    link = undefined;
  });
  it('joins two fresh namespaces that can reach each other, and deletes them', async () => {
    link = await createVethPair('tk');
    const out = await link.a.exec('ping', ['-c', '1', '-W', '2', link.addrB]);
    expect(out).toContain('1 received');
    const name = link.a.name;
    await link.destroy();
    link = undefined;
    const list = await execa('ip', ['netns', 'list']);
    expect(list.stdout).not.toContain(name);
  });
});
