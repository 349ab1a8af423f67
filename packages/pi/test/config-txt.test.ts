import { describe, expect, it } from 'vitest';
import { CONFIG_TXT_LIMIT, parseConfigTxt } from '../src/index.js';

const pi4 = { filters: ['pi4'], serial: '7a1b2c3d' };
const pi3 = { filters: ['pi3'], serial: '0660cd37' };

describe('parseConfigTxt', () => {
  it('reads kernel=, initramfs followkernel, auto_initramfs, arm_64bit and comments', () => {
    const c = parseConfigTxt(
      '# comment\nkernel=vmlinuz\ninitramfs initrd.img followkernel\nauto_initramfs=1\narm_64bit=0\n  dtoverlay=vc4-kms-v3d,cma-128\n',
      pi4,
    );
    expect(c.kernel).toBe('vmlinuz');
    expect(c.initramfs).toEqual({ file: 'initrd.img', address: 'followkernel' });
    expect(c.autoInitramfs).toBe(true);
    expect(c.arm64).toBe(false);
    expect(c.overlays).toEqual(['vc4-kms-v3d']);
  });

  it('applies [pi3]/[pi4]/[pi5] sections to the matching board only, [all] resets, [none] hides', () => {
    const text = [
      'kernel=common.img',
      '[pi3]',
      'kernel=three.img',
      '[pi4]',
      'kernel=four.img',
      '[pi5]',
      'kernel=five.img',
      '[none]',
      'arm_64bit=0',
      '[all]',
      'auto_initramfs=1',
    ].join('\n');
    expect(parseConfigTxt(text, pi4).kernel).toBe('four.img');
    expect(parseConfigTxt(text, pi3).kernel).toBe('three.img');
    expect(parseConfigTxt(text, { filters: ['pi5'] }).kernel).toBe('five.img');
    expect(parseConfigTxt(text, { filters: ['pi4', 'cm4'] }).kernel).toBe('four.img');
    expect(parseConfigTxt(text, pi4).arm64).toBeUndefined();
    expect(parseConfigTxt(text, pi4).autoInitramfs).toBe(true);
  });

  it('ANDs filters of different kinds (board and serial) and replaces filters of the same kind', () => {
    const text = '[pi4]\n[0x7a1b2c3d]\nkernel=mine.img\n[0x11111111]\nkernel=other.img\n[all]\n';
    expect(parseConfigTxt(text, pi4).kernel).toBe('mine.img');
    expect(parseConfigTxt(text, { filters: ['pi4'], serial: '11111111' }).kernel).toBe('other.img');
    expect(parseConfigTxt(text, pi3).kernel).toBeUndefined();
  });

  it('treats filters it cannot evaluate as not matching', () => {
    expect(parseConfigTxt('[gpio4=1]\nkernel=x.img\n[all]\n', pi4).kernel).toBeUndefined();
  });

  it('inlines include files and notes missing ones', () => {
    const c = parseConfigTxt('include extra.txt\ninclude gone.txt\n', {
      ...pi4,
      include: (f) => (f === 'extra.txt' ? 'kernel=from-include.img\n' : undefined),
    });
    expect(c.kernel).toBe('from-include.img');
    expect(c.includes).toEqual(['extra.txt', 'gone.txt']);
    expect(c.notes.join('\n')).toContain('include gone.txt: file not found');
  });

  it('ignores everything after 4096 bytes, as the firmware does over netboot', () => {
    const filler = `# ${'x'.repeat(CONFIG_TXT_LIMIT)}\n`;
    const c = parseConfigTxt(`kernel=early.img\n${filler}enable_uart=1\nkernel=late.img\n`, pi4);
    expect(c.truncated).toBe(true);
    expect(c.kernel).toBe('early.img');
    expect(c.settings.has('enable_uart')).toBe(false);
    expect(c.notes[0]).toContain('enable_uart=1');
  });

  it('does not crash on garbage', () => {
    const c = parseConfigTxt('\u0000\u0001[[[\n=\n[\nkernel\n', pi4);
    expect(c.kernel).toBeUndefined();
  });
});
