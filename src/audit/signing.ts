// Ed25519 keys for checkpoint signatures: generate, load from PEM, sign and verify canonical bytes.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
}

export type KeyResult<T> = { ok: true; key: T } | { ok: false; error: string };

/** Short fingerprint of the public key (SHA-256 of its SPKI DER), so a checkpoint names the key it expects. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export async function loadSigningKey(file: string): Promise<KeyResult<SigningKey>> {
  try {
    const privateKey = createPrivateKey(await readFile(file, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') return { ok: false, error: `${file}: not an Ed25519 key` };
    const publicKey = createPublicKey(privateKey);
    return { ok: true, key: { privateKey, publicKey, keyId: keyIdOf(publicKey) } };
  } catch (error) {
    return { ok: false, error: `${file}: ${(error as Error).message}` };
  }
}

export async function loadPublicKey(file: string): Promise<KeyResult<KeyObject>> {
  try {
    const key = createPublicKey(await readFile(file, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') return { ok: false, error: `${file}: not an Ed25519 key` };
    return { ok: true, key };
  } catch (error) {
    return { ok: false, error: `${file}: ${(error as Error).message}` };
  }
}

export function signText(text: string, key: KeyObject): string {
  return sign(null, Buffer.from(text, 'utf8'), key).toString('base64');
}

export function verifyText(text: string, signature: string, key: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Writes a new key pair. Refuses to overwrite (an overwritten signing key orphans every
 * checkpoint made with it). The private key is created with mode 0600 from the first byte.
 */
export async function writeKeyPair(privateFile: string, publicFile: string): Promise<{ keyId: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = await open(privateFile, 'wx', 0o600);
  try {
    await priv.writeFile(privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await priv.chmod(0o600); // the umask cannot widen it, but an inherited ACL default might
    await priv.sync();
  } finally {
    await priv.close();
  }
  const pub = await open(publicFile, 'wx', 0o644);
  try {
    await pub.writeFile(publicKey.export({ type: 'spki', format: 'pem' }));
    await pub.sync();
  } finally {
    await pub.close();
  }
  return { keyId: keyIdOf(publicKey) };
}
