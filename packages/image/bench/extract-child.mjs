/**
 * One timed extraction in its own process, from the built package (no TypeScript loader in the
 * measurement), so peak RSS is this run's alone:
 *   node bench/extract-child.mjs <image> <partition> <to> <dir|tar>
 * Prints one JSON line: phases (open/decompress, scan, write) and the ExtractResult.
 */
import { extract, openImage } from '../dist/index.js';

const [image, partition, to, format] = process.argv.slice(2);
if (!image || !partition || !to || (format !== 'dir' && format !== 'tar')) {
  console.error('usage: extract-child.mjs <image> <partition> <to> <dir|tar>');
  process.exit(2);
}
const t0 = performance.now();
const img = await openImage(image);
const tOpen = performance.now();
let tScan = tOpen;
try {
  const result = await extract(img, {
    partition: /^\d+$/.test(partition) ? Number(partition) : partition,
    to,
    format,
    onProgress: (p) => {
      if (p.phase === 'scan') tScan = performance.now();
    },
  });
  const tEnd = performance.now();
  console.log(
    JSON.stringify({
      openMs: tOpen - t0,
      scanMs: tScan - tOpen,
      writeMs: tEnd - tScan,
      totalMs: tEnd - t0,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      result,
    }),
  );
} finally {
  await img.close();
}
