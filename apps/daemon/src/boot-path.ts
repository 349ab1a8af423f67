/**
 * What a TFTP path says about the Pi asking. The rules (serial and MAC directory names, the first file
 * each family asks for) live in @bramble/pi; these are the names the daemon uses for them.
 */
export {
  familyFromFirstFile as modelFromFirstFile,
  macDirName as macDir,
  parseTftpPath as parseBootPath,
  type TftpPath as BootPath,
} from '@bramble/pi';
