import { describe, expect, it } from 'vitest';
import {
  familyFromFirstFile,
  modelFromBoardRevision,
  modelFromDetected,
  option43Text,
  PI_BOOT_MENU_TEXT,
  PI_MODEL_TABLE,
  PI_MODELS,
  PiError,
  piModel,
} from '../src/index.js';

describe('the model table', () => {
  it('has every model the netboot firmware knows, each row keyed by its own name', () => {
    expect([...PI_MODELS]).toEqual([
      'pi3b',
      'pi3b+',
      'pi3a+',
      'pizero2w',
      'pi4',
      'pi400',
      'cm4',
      'pi5',
      'pi500',
      'cm5',
    ]);
    for (const name of PI_MODELS) expect(PI_MODEL_TABLE[name].model).toBe(name);
  });

  it('only the Pi 3B ROM needs the trailing-space option 43', () => {
    const padded = PI_MODELS.filter((name) => PI_MODEL_TABLE[name].boot.option43TrailingSpaces);
    expect(padded).toEqual(['pi3b']);
    expect(option43Text(['pi4', 'pi3b+'])).toBe(PI_BOOT_MENU_TEXT);
    expect(option43Text(['pi4', undefined, 'pi3b'])).toBe('Raspberry Pi Boot   ');
    expect(option43Text([])).toBe('Raspberry Pi Boot');
  });

  it('records boot capabilities: TFTP directory naming, HTTP boot, block size, loader', () => {
    expect(piModel('pi3b+').boot.tftpPrefixes).toEqual(['serial']);
    expect(piModel('cm4').boot.tftpPrefixes).toEqual(['serial', 'mac', 'custom']);
    expect(PI_MODELS.filter((name) => PI_MODEL_TABLE[name].boot.http)).toEqual([
      'pi4',
      'pi400',
      'cm4',
      'pi5',
      'pi500',
      'cm5',
    ]);
    expect(piModel('pi3b').boot.blksize).toBe(512);
    expect(piModel('pi400').boot.blksize).toBe(1024);
    expect(piModel('cm5').boot.blksize).toBe(1468);
    expect(piModel('pizero2w').boot.loader).toBe('sd-bootcode');
    expect(piModel('pi5').files.start).toBeUndefined();
  });

  it('rejects unknown model names listing the known ones', () => {
    expect(() => piModel('pi2')).toThrow(PiError);
    expect(() => piModel('pi2')).toThrow(/pi3b, pi3b\+, pi3a\+, pizero2w, pi4, pi400, cm4, pi5, pi500, cm5/);
  });

  it('maps board revision codes and discovery results to models', () => {
    for (const name of PI_MODELS) {
      expect(modelFromBoardRevision(PI_MODEL_TABLE[name].boardRevision)).toBe(name);
    }
    expect(modelFromBoardRevision(0x0010)).toBeUndefined(); // old-style code
    expect(modelFromDetected('pi3b+')).toBe('pi3b+');
    expect(modelFromDetected('pi500')).toBe('pi500');
    expect(modelFromDetected('pi3')).toBe('pi3b');
    expect(modelFromDetected('pi4')).toBe('pi4');
    expect(modelFromDetected('unknown')).toBeUndefined();
  });

  it('knows each family by the first file its firmware probes', () => {
    expect(familyFromFirstFile('start.elf')).toBe('pi3');
    expect(familyFromFirstFile('bootcode.bin')).toBe('pi3');
    expect(familyFromFirstFile('START4.ELF')).toBe('pi4');
    expect(familyFromFirstFile('config.txt')).toBe('pi5');
    expect(familyFromFirstFile('pieeprom.sig')).toBe('pi5');
    expect(familyFromFirstFile('kernel8.img')).toBe('unknown');
  });
});
