import { FileBlockSource } from '../src/block-source.js';
import { openExt4 } from '../src/ext4/index.js';
import { extract } from '../src/extract/index.js';
const src = await FileBlockSource.open('/dev/shm/pt/img');
const fs = await openExt4(src);
const t = performance.now();
await extract(fs, { to: '/dev/shm/pt/out', overwrite: true, onProgress: (p) => console.log(p.phase, p.files, (performance.now() - t).toFixed(0)) });
console.log('extract', performance.now() - t);
