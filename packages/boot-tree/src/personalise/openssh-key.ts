/**
 * SSH host key pairs generated in-process with node:crypto (generateKeyPair runs in libuv's thread pool:
 * the three types are made at the same time, no process, no temporary file) and written in the formats
 * `ssh-keygen` writes: the private key as an unencrypted `openssh-key-v1` container (OpenSSH
 * PROTOCOL.key), the public key as one `TYPE BASE64 COMMENT` line. Wire encodings: RFC 4251 §5 (string,
 * mpint), RFC 4253 §6.6 (ssh-rsa), RFC 5656 §3.1 (ecdsa-sha2-nistp256), RFC 8709 §4 (ssh-ed25519).
 * Same key sizes as ssh-keygen's defaults: RSA 3072 bits (e = 65537), ECDSA P-256, Ed25519.
 */
import { generateKeyPair, type JsonWebKey, type KeyObject, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { BootTreeError } from '../errors.js';

/** The SSH host key types Bramble makes (ssh-keygen -A's set on Raspberry Pi OS). */
export const HOST_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

/** An OpenSSH key pair: the private key file's bytes and the public key line. */
export interface OpenSshKeyPair {
  key: Buffer;
  pub: Buffer;
}

/** ssh-keygen's default RSA size (OpenSSH 8.x+). */
export const RSA_BITS = 3072;

const generate = promisify(generateKeyPair);
/** RFC 4251 §5 string: uint32 length + bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** RFC 4251 §5 mpint of a non-negative big-endian magnitude: no leading zeros, a 0x00 if the top bit is set. */
function sshMpint(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const first = trimmed[0];
  return sshString(first !== undefined && first & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed);
}

const b64url = (jwk: JsonWebKey, field: 'n' | 'e' | 'd' | 'p' | 'q' | 'qi' | 'x' | 'y'): Buffer => {
  const value = jwk[field];
  if (typeof value !== 'string') {
    throw new BootTreeError('TOOL_FAILED', `generated key lacks its JWK '${field}' component`);
  }
  return Buffer.from(value, 'base64url');
};

/** The key type name, public key blob and private fields (PROTOCOL.key) of one generated key. */
function encodeParts(
  type: HostKeyType,
  privateKey: KeyObject,
): { name: string; publicBlob: Buffer; privateFields: Buffer } {
  const jwk = privateKey.export({ format: 'jwk' });
  if (type === 'ed25519') {
    const pub = b64url(jwk, 'x');
    const seed = b64url(jwk, 'd');
    const name = 'ssh-ed25519';
    return {
      name,
      publicBlob: Buffer.concat([sshString(name), sshString(pub)]),
      // OpenSSH keeps the 64-byte "secret key" of the ref10 implementation: seed || public key.
      privateFields: Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]),
    };
  }
  if (type === 'ecdsa') {
    const point = Buffer.concat([Buffer.of(4), b64url(jwk, 'x'), b64url(jwk, 'y')]); // SEC1 uncompressed
    const name = 'ecdsa-sha2-nistp256';
    const curve = sshString('nistp256');
    return {
      name,
      publicBlob: Buffer.concat([sshString(name), curve, sshString(point)]),
      privateFields: Buffer.concat([curve, sshString(point), sshMpint(b64url(jwk, 'd'))]),
    };
  }
  const [n, e] = [b64url(jwk, 'n'), b64url(jwk, 'e')];
  const name = 'ssh-rsa';
  return {
    name,
    publicBlob: Buffer.concat([sshString(name), sshMpint(e), sshMpint(n)]),
    // n, e, d, iqmp (= q^-1 mod p, JWK qi), p, q.
    privateFields: Buffer.concat(
      [n, e, b64url(jwk, 'd'), b64url(jwk, 'qi'), b64url(jwk, 'p'), b64url(jwk, 'q')].map(sshMpint),
    ),
  };
}

/** The unencrypted openssh-key-v1 file of one key (PROTOCOL.key), armoured as ssh-keygen does (70 columns). */
function privateKeyFile(name: string, publicBlob: Buffer, privateFields: Buffer, comment: string): Buffer {
  const check = randomBytes(4);
  const body = Buffer.concat([check, check, sshString(name), privateFields, sshString(comment)]);
  // Padded with 1, 2, 3 … to the cipher block size ("none": 8).
  const pad = (8 - (body.length % 8)) % 8;
  const padded = Buffer.concat([body, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const container = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    Buffer.from([0, 0, 0, 1]),
    sshString(publicBlob),
    sshString(padded),
  ]);
  const lines = container.toString('base64').match(/.{1,70}/g) ?? [];
  return Buffer.from(
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
  );
}

/** Generate one key pair of `type` (thread pool) in OpenSSH's file formats, with `comment` (e.g. root@host). */
export async function generateOpenSshKeyPair(type: HostKeyType, comment: string): Promise<OpenSshKeyPair> {
  if (/[\r\n]/.test(comment)) throw new BootTreeError('INVALID_INPUT', 'key comment has a line break');
  let privateKey: KeyObject;
  try {
    if (type === 'rsa') {
      // OpenSSL's own generator (FIPS 186-4 checks, constant-time private-key arithmetic): a host key is
      // no place for hand-written RSA, even if a parallel prime search would halve the time on 2 cores.
      ({ privateKey } = await generate('rsa', { modulusLength: RSA_BITS, publicExponent: 0x10001 }));
    } else if (type === 'ecdsa') {
      ({ privateKey } = await generate('ec', { namedCurve: 'P-256' }));
    } else {
      ({ privateKey } = await generate('ed25519'));
    }
  } catch (e) {
    throw new BootTreeError('TOOL_FAILED', `generating a ${type} host key failed: ${String(e)}`, {
      cause: e,
    });
  }
  const { name, publicBlob, privateFields } = encodeParts(type, privateKey);
  return {
    key: privateKeyFile(name, publicBlob, privateFields, comment),
    pub: Buffer.from(`${name} ${publicBlob.toString('base64')} ${comment}\n`),
  };
}
