/**
 * Boot-storm load generator (child process): N simulated Pi 4s at once, each doing a tsize probe with early
 * terminate, then fetching the boot files in order with blksize 1024 (lock-step unless `windowsize` is set).
 * argv[2]: JSON LoadSpec. Prints one JSON LoadResult line. Uses only this package's client.
 */
import { download, probeSize } from '../src/index.js';

export interface LoadSpec {
  host: string;
  port: number;
  clients: number;
  files: { name: string; size: number }[];
  blksize: number;
  windowsize?: number;
  probe: boolean;
  /** Do one untimed boot first, so the timed one runs with a JIT-warm client (steady state). */
  warmup?: boolean;
}
export interface LoadResult {
  wallMs: number;
  bytes: number;
  fileMs: number[];
  retransmits: number;
  failedBoots: number;
  errors: string[];
}

async function boot(spec: LoadSpec, r: LoadResult): Promise<void> {
  const opts = {
    port: spec.port,
    blksize: spec.blksize,
    tsize: true,
    retries: 5,
    retransmitMs: 1000,
    ...(spec.windowsize ? { windowsize: spec.windowsize } : {}),
  };
  const first = spec.files[0];
  if (spec.probe && first) {
    const p = await probeSize(spec.host, first.name, opts);
    if (p.size !== first.size) throw new Error(`probe of ${first.name}: size ${p.size}, want ${first.size}`);
  }
  for (const f of spec.files) {
    const t = performance.now();
    let n = 0;
    const st = await download(
      spec.host,
      f.name,
      (c) => {
        n += c.length;
      },
      opts,
    );
    r.fileMs.push(performance.now() - t);
    r.retransmits += st.retransmits;
    if (n !== f.size) throw new Error(`${f.name}: got ${n} bytes, want ${f.size}`);
    r.bytes += n;
  }
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmup) {
    const w: LoadResult = { wallMs: 0, bytes: 0, fileMs: [], retransmits: 0, failedBoots: 0, errors: [] };
    await boot(spec, w);
  }
  const r: LoadResult = { wallMs: 0, bytes: 0, fileMs: [], retransmits: 0, failedBoots: 0, errors: [] };
  const t = performance.now();
  await Promise.all(
    Array.from({ length: spec.clients }, () =>
      boot(spec, r).catch((e: Error) => {
        r.failedBoots++;
        if (r.errors.length < 10) r.errors.push(e.message);
      }),
    ),
  );
  r.wallMs = performance.now() - t;
  return r;
}

if (process.argv[2]?.startsWith('{')) {
  const spec = JSON.parse(process.argv[2]) as LoadSpec;
  runLoad(spec).then((r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
  });
}
