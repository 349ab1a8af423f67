import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { provisionNode } from '/work/wt/provision-speed/packages/boot-tree/src/index.js';
import { makeImage } from '/work/wt/provision-speed/packages/boot-tree/test/helpers/synthetic-image.js';

const WORK = '/tmp/ps-prof/work';
await rm(WORK, { recursive: true, force: true });
const img = await makeImage(join(WORK, 'image'), 'bookworm');
for (let i = 0; i < 1500; i++) {
  const d = join(img.rootDir, 'etc', `conf${i % 60}.d`);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, `file${i}.conf`), `# ${i}\n`);
}
for (let i = 0; i < 400; i++)
  await writeFile(join(img.rootDir, 'lib/systemd/system', `unit${i}.service`), `[Unit]\n`);
const N = Number(process.env.N ?? 6);
for (let i = 1; i <= N; i++) {
  const t = performance.now();
  await provisionNode({
    node: {
      hostname: `n${i}`,
      serial: (0xa0000000 + i).toString(16),
      image: 'bookworm',
      user: 'alice',
      passwordHash: '$6$salt$hash',
      address: `10.0.0.${i + 2}`,
      root: 'shared',
    },
    image: { name: 'bookworm', ...img },
    tftpRoot: join(WORK, 'tftp'),
    nfsRoot: join(WORK, 'nfs'),
    nfsServer: '10.0.0.1',
  });
  console.log('node', i, (performance.now() - t).toFixed(0), 'ms');
}
