import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { imageNameFromFile } from '../src/commands/image/name.js';
import { colorWanted, formatBytes, formatTable, Output } from '../src/output.js';

const sink = () => {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
};

describe('output', () => {
  const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('aligns table columns (right-aligned numbers) and ignores colour codes when measuring', () => {
    const text = formatTable(
      [
        { node: 'rpi-k8s-01', files: 10, verdict: '\u001b[32mwould boot\u001b[0m' },
        { node: 'n2', files: 7, verdict: 'would not boot' },
      ],
      [
        { key: 'node', header: 'NODE' },
        { key: 'files', header: 'FILES', align: 'right' },
        { key: 'verdict', header: 'VERDICT' },
      ],
    );
    expect(text.split('\n')).toEqual([
      'NODE        FILES  VERDICT',
      'rpi-k8s-01     10  \u001b[32mwould boot\u001b[0m',
      'n2              7  would not boot',
      '',
    ]);
  });

  it('prints listings as JSON with --json and nothing with --quiet', () => {
    const out = sink();
    new Output({ json: true, stdout: out.stream, stderr: out.stream }).table(
      [{ a: 1 }],
      [{ key: 'a', header: 'A' }],
    );
    expect(JSON.parse(out.text())).toEqual([{ a: 1 }]);
    const quiet = sink();
    const o = new Output({ quiet: true, stdout: quiet.stream, stderr: quiet.stream });
    o.table([{ a: 1 }], [{ key: 'a', header: 'A' }]);
    o.print('x');
    o.note('y');
    expect(quiet.text()).toBe('');
  });

  it('uses colours only on a TTY and never with NO_COLOR', () => {
    delete process.env.FORCE_COLOR;
    process.env.NO_COLOR = '1';
    expect(colorWanted({ isTTY: true })).toBe(false);
    delete process.env.NO_COLOR;
    expect(colorWanted({ isTTY: true })).toBe(true);
    expect(colorWanted({ isTTY: false })).toBe(false);
    expect(colorWanted({ isTTY: true }, false)).toBe(false);
    const out = sink();
    const o = new Output({ stdout: out.stream });
    expect(o.green('ok')).toBe('ok');
  });

  it('formats sizes and derives image names from file names', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(imageNameFromFile('/x/2024-11-19-raspios-bookworm-arm64-lite.img.xz')).toBe(
      '2024-11-19-raspios-bookworm-arm64-lite',
    );
    expect(imageNameFromFile('raspbian.zip')).toBe('raspbian');
  });
});
