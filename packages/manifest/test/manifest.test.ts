import { describe, expect, it } from 'vitest';
import {
  formatPath,
  Mac,
  ManifestError,
  manifestJsonSchema,
  parseManifestText,
  Serial,
} from '../src/index.js';

const problemsOf = (text: string) => {
  try {
    parseManifestText(text);
  } catch (e) {
    if (e instanceof ManifestError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
};

describe('manifest', () => {
  it('normalises serials and MACs the way the firmware and boot-tree name directories', () => {
    expect(Serial.parse('10000000 7A1B2C3D'.replace(' ', ''))).toBe('7a1b2c3d');
    expect(Serial.parse('0x7A1B2C3D')).toBe('7a1b2c3d');
    expect(Serial.parse('000000007a1b2c3d')).toBe('7a1b2c3d');
    expect(Serial.safeParse('7a1b2c3').success).toBe(false);
    expect(Serial.safeParse('7a1b2c3g').success).toBe(false);
    expect(Mac.parse('DC-A6-32-01-36-C2')).toBe('dc:a6:32:01:36:c2');
    expect(Mac.parse('dca6.3201.36c2')).toBe('dc:a6:32:01:36:c2');
    expect(Mac.safeParse('dc:a6:32:01:36').success).toBe(false);
  });

  it('applies defaults and parses listen addresses', () => {
    const m = parseManifestText('server: { address: 10.0.0.1 }\ntftp: { listen: 6969 }\n');
    expect(m.tftp.listen).toEqual({ address: '0.0.0.0', port: 6969 });
    expect(m.http.listen).toEqual({ address: '127.0.0.1', port: 9469 });
    expect(m.dhcp.mode).toBe('external');
    expect(m.nfs.kind).toBe('kernel');
    expect(m.stateDir).toBe('/var/lib/bramble');
    expect(m.tftp.engine).toBe('auto');
  });

  it("refuses tftp.engine 'native' with singlePort (the native pump needs per-transfer ports)", () => {
    expect(problemsOf('server: { address: 10.0.0.1 }\ntftp: { singlePort: true, engine: native }\n')).toEqual(
      ["tftp.engine: engine 'native' needs per-transfer ports: use 'auto' or 'js' with singlePort"],
    );
    expect(problemsOf('server: { address: 10.0.0.1 }\ntftp: { engine: turbo }\n')[0]).toMatch(
      /^tftp\.engine: /,
    );
  });

  it('lists every problem by path, including cross-node ones, even when others fail', () => {
    const problems = problemsOf(`server: { address: 10.0.0.1 }
tftp: { listen: 'x:99999' }
images: { a: ./a.img }
nodes:
  - { hostname: n1, serial: 12345678, image: a }
  - { hostname: n1, serial: '0x12345678', image: a, mac: nope }
  - { hostname: n3, image: z }
  - { hostname: n4, serial: 1234567, image: a, typo: 1 }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'tftp.listen: expected ADDR:PORT like 0.0.0.0:69 or a port number',
        "nodes[1].mac: MAC address 'nope' is not 6 hex octets, e.g. 'dc:a6:32:01:36:c2'",
        'nodes[2].serial: a node needs a serial or a MAC address (the TFTP directory is named after one of them)',
        "nodes[3].serial: serial '1234567' is not 8 hex digits as in the Pi's TFTP directory (e.g. 7a1b2c3d), or the 16-digit Serial from /proc/cpuinfo (its last 8 are used)",
        'nodes[3].typo: unknown key (check the spelling)',
        "nodes[2].image: unknown image 'z' (known: a)",
        "nodes[1].hostname: duplicate hostname 'n1' (also nodes[0])",
        "nodes[1].serial: duplicate serial '12345678' (also nodes[0])",
      ]),
    );
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problemsOf('server: { address: 10.0.0.1\nnodes: [')[0]).toMatch(/^line \d+:\d+: /);
  });

  it('formats paths like nodes[2].serial and prints a JSON Schema', () => {
    expect(formatPath(['nodes', 2, 'serial'])).toBe('nodes[2].serial');
    expect(formatPath([])).toBe('');
    const schema = manifestJsonSchema() as { required?: string[]; properties: Record<string, unknown> };
    expect(schema.required).toContain('server');
    expect(Object.keys(schema.properties)).toContain('nodes');
  });
});
