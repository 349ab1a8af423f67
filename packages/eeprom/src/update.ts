/**
 * pieeprom.upd + pieeprom.sig, built the way rpi-eeprom-update prepares a bootloader update
 * (`prepareImage()` + `applyRecoveryUpdate()`, HEAD 86759b0):
 *
 *   rpi-eeprom-config --out pieeprom.upd --config bootconf.txt --timestamp T pieeprom-*.bin
 *   rpi-eeprom-digest -c <2711|2712> -i pieeprom.upd -o pieeprom.sig     (ts: T)
 *
 * The same T goes into the image's update-timestamp and the .sig's `ts:` line.
 */
import { type ValidateOptions, validateBootConf } from './bootconf.js';
import { type Chip, type EepromImage, parseImage, readBootConf } from './image.js';
import { signatureText } from './signature.js';
import { replaceBootConf, setTimestamp } from './write.js';

export interface BuildUpdateOptions extends ValidateOptions {
  /** The new bootconf.txt; the image's own when omitted. */
  config?: string;
  /** Update timestamp (seconds since 1970); default now. */
  timestamp?: number;
  /** Write the timestamp into the image too (`--timestamp`, as rpi-eeprom-update does); default true. */
  stampImage?: boolean;
  /** Add the `target-soc:` line to the .sig (rpi-eeprom-digest -c); default true. */
  targetSoc?: boolean;
  /** Validate the config against the documented keys; default true. */
  validate?: boolean;
}

export interface UpdateFiles {
  chip: Chip;
  /** pieeprom.upd */
  image: Uint8Array;
  /** pieeprom.sig */
  signature: string;
  /** The bootconf.txt inside `image`. */
  config: string;
  timestamp: number;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Build pieeprom.upd and its .sig from a pieeprom-*.bin (bytes or parsed). */
export function buildUpdate(source: Uint8Array | EepromImage, options: BuildUpdateOptions = {}): UpdateFiles {
  let image = source instanceof Uint8Array ? parseImage(source) : source;
  const timestamp = options.timestamp ?? nowSeconds();
  if (options.stampImage ?? true) image = setTimestamp(image, timestamp);
  if (options.config !== undefined) {
    if (options.validate ?? true) validateBootConf(options.config, options);
    image = replaceBootConf(image, options.config);
  }
  return {
    chip: image.chip,
    image: image.bytes,
    signature: signatureText(image.bytes, {
      timestamp,
      targetSoc: (options.targetSoc ?? true) ? image.chip : undefined,
    }),
    config: readBootConf(image),
    timestamp,
  };
}
