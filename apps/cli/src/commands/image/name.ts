import { basename } from 'node:path';

/** `2024-11-19-raspios-bookworm-arm64-lite.img.xz` -> `2024-11-19-raspios-bookworm-arm64-lite` */
export function imageNameFromFile(file: string): string {
  return basename(file)
    .replace(/\.(img\.xz|img\.gz|img|zip|xz|gz)$/i, '')
    .replace(/[^a-zA-Z0-9._-]/g, '-');
}
