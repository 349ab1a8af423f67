/**
 * What a TFTP path says about the Pi asking: its per-node prefix (serial `7a1b2c3d/` or MAC
 * `dc-a6-32-01-36-c2/`) and, from the first file, the model family (Pi 3 bootcode.bin asks for
 * `<serial>/start.elf`, the Pi 4 EEPROM for `<prefix>/start4.elf`, the Pi 5 for `<prefix>/config.txt`).
 */
export interface BootPath {
  prefix?: { kind: 'serial'; serial: string } | { kind: 'mac'; mac: string };
  /** Path below the prefix, without leading slashes. */
  rest: string;
}

export function parseBootPath(file: string): BootPath {
  const clean = file.replace(/\\/g, '/').replace(/^\/+/, '');
  const slash = clean.indexOf('/');
  if (slash <= 0) return { rest: clean };
  const head = clean.slice(0, slash).toLowerCase();
  const rest = clean.slice(slash + 1);
  if (/^[0-9a-f]{8}$/.test(head)) return { prefix: { kind: 'serial', serial: head }, rest };
  if (/^([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(head))
    return { prefix: { kind: 'mac', mac: head.replace(/-/g, ':') }, rest };
  return { rest: clean };
}

/** Model family guessed from the first file a Pi asks for under its prefix. */
export function modelFromFirstFile(rest: string): 'pi3' | 'pi4' | 'pi5' | 'unknown' {
  const f = rest.toLowerCase();
  if (f === 'start.elf' || f === 'bootcode.bin') return 'pi3';
  if (f === 'start4.elf') return 'pi4';
  if (f === 'config.txt' || f === 'pieeprom.sig') return 'pi5';
  return 'unknown';
}

/** `dc:a6:32:01:36:c2` -> `dc-a6-32-01-36-c2` (the Pi 4/5 TFTP_PREFIX=2 directory name). */
export function macDir(mac: string): string {
  return mac.toLowerCase().replace(/:/g, '-');
}
