import { ImageError } from '../errors.js';

/**
 * A walk path is '/' or '/a/b': components must be plain names. A corrupt or hostile file system
 * (names holding '/', '.', '..' or NUL) must not make extraction write outside the destination.
 */
export function checkedRelativePath(path: string): string {
  if (path === '/') return '';
  const parts = path.split('/');
  if (parts[0] !== '' || parts.length < 2) throw unsafe(path);
  for (let i = 1; i < parts.length; i++) {
    const c = parts[i] as string;
    if (c === '' || c === '.' || c === '..' || c.includes('\u0000')) throw unsafe(path);
  }
  return parts.slice(1).join('/');
}

function unsafe(path: string): ImageError {
  return new ImageError(
    'CORRUPT_FILESYSTEM',
    `refusing to extract unsafe path ${JSON.stringify(path)}: it would escape the destination`,
  );
}
