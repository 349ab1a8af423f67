/**
 * SSH host key pairs generated in-process with node:crypto (generateKeyPair runs in libuv's thread pool:
 * the three types are made at the same time, no process, no temporary file) and written in the formats
 * `ssh-keygen` writes: the private key as an unencrypted `openssh-key-v1` container (OpenSSH
 * PROTOCOL.key), the public key as one `TYPE BASE64 COMMENT` line. Wire encodings: RFC 4251 §5 (string,
 * mpint), RFC 4253 §6.6 (ssh-rsa), RFC 5656 §3.1 (ecdsa-sha2-nistp256), RFC 8709 §4 (ssh-ed25519).
 * Same key sizes as ssh-keygen's defaults: RSA 3072 bits (e = 65537), ECDSA P-256, Ed25519.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generatePrime,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { promisify } from 'node:util';
import { BootTreeError } from '../errors.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** An OpenSSH key pair: the private key file's bytes and the public key line. */
export interface OpenSshKeyPair {
  key: Buffer;
  pub: Buffer;
}

/** ssh-keygen's default RSA size (OpenSSH 8.x+). */
export const RSA_BITS = 3072;

const generate = promisify(generateKeyPair);
/** A random prime of `bits` bits (OpenSSL, thread pool). */
const prime = (bits: number): Promise<bigint> =>
  new Promise((resolve, reject) =>
    generatePrime(bits, { bigint: true }, (error, value) => (error ? reject(error) : resolve(value))),
  );

const RSA_E = 65537n;
/** Prime searches before giving up (each pair fails a check below with a probability far under 1e-9). */
const RSA_ATTEMPTS = 8;

const bitLength = (value: bigint): number => value.toString(2).length;
const toB64url = (value: bigint): string => {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
};

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a, b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** a⁻¹ mod m (extended Euclid); undefined when gcd(a, m) ≠ 1. */
function modInverse(a: bigint, m: bigint): bigint | undefined {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) return undefined;
  return ((oldS % m) + m) % m;
}

/**
 * An RSA_BITS key with e = 65537 whose two primes are searched at the same time (two thread-pool jobs:
 * OpenSSL's RSA key generation searches them one after the other, and the search is nearly all of its
 * time). OpenSSL's prime generator sets each prime's top two bits (n has exactly RSA_BITS bits); the pair
 * must meet FIPS 186-4 B.3.1's checks (|p − q| > 2^(nlen/2 − 100), gcd(e, λ(n)) = 1, d > 2^(nlen/2));
 * d = e⁻¹ mod λ(n) and the CRT values follow RFC 8017 §3.2. A signature made and verified with the key
 * proves it whole before it is used.
 */
async function generateRsa(): Promise<KeyObject> {
  const half = RSA_BITS / 2;
  for (let attempt = 0; attempt < RSA_ATTEMPTS; attempt++) {
    const [a, b] = await Promise.all([prime(half), prime(half)]);
    const [p, q] = a > b ? [a, b] : [b, a];
    const n = p * q;
    if (bitLength(n) !== RSA_BITS || p - q <= 2n ** BigInt(half - 100)) continue;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    const d = modInverse(RSA_E, lambda);
    const qi = modInverse(q, p);
    if (d === undefined || qi === undefined || d <= 2n ** BigInt(half)) continue;
    const jwk: JsonWebKey = {
      kty: 'RSA',
      n: toB64url(n),
      e: toB64url(RSA_E),
      d: toB64url(d),
      p: toB64url(p),
      q: toB64url(q),
      dp: toB64url(d % (p - 1n)),
      dq: toB64url(d % (q - 1n)),
      qi: toB64url(qi),
    };
    const key = createPrivateKey({ key: jwk, format: 'jwk' });
    const probe = randomBytes(32);
    if (!verify('sha256', probe, createPublicKey(key), sign('sha256', probe, key))) {
      throw new BootTreeError('TOOL_FAILED', 'a generated RSA key failed its signature check');
    }
    return key;
  }
  throw new BootTreeError('TOOL_FAILED', `no RSA key after ${RSA_ATTEMPTS} prime pairs`);
}

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
      privateKey = await generateRsa();
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
