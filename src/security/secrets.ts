import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { CookieSigner } from './cookie-signer.js';

const ENVELOPE_VERSION = 'v1';

/**
 * Derives every purpose-specific key from the one root secret (HKDF-SHA256 with a
 * distinct label each), so one leaked derived key exposes nothing else, and rotating
 * the root secret is the single knob operators need.
 *
 * The derived keys are held as `KeyObject`s, not Buffers. Besides keeping the bytes
 * out of the JavaScript heap, this is the fast path: on Node 24.21, `createHmac` and
 * `createCipheriv` given a Buffer first ask whether it is a KeyObject and then whether
 * it is a CryptoKey, and each question is answered by a native exception, caught, with
 * a stack trace captured; a KeyObject is recognised without one. An API-key check
 * hashes on every request.
 */
export class Secrets {
  readonly #encryptionKey: KeyObject;
  readonly #csrfKey: KeyObject;
  readonly #hashKey: KeyObject;
  /** Signs and checks the signed cookies of our pages and of oidc-provider. */
  readonly cookieSigner: CookieSigner;

  constructor(rootSecret: string) {
    this.#encryptionKey = createSecretKey(derive(rootSecret, 'gatehouse/encryption-at-rest'));
    this.#csrfKey = createSecretKey(derive(rootSecret, 'gatehouse/csrf'));
    this.#hashKey = createSecretKey(derive(rootSecret, 'gatehouse/keyed-hash'));
    this.cookieSigner = new CookieSigner([derive(rootSecret, 'gatehouse/cookies').toString('base64url')]);
  }

  /**
   * A CSRF token bound to one thing only the legitimate browser knows (an interaction
   * uid, a session id): stateless, unguessable without the root secret.
   */
  csrfToken(binding: string): string {
    return createHmac('sha256', this.#csrfKey).update(binding).digest('base64url');
  }

  /** Constant-time check of a submitted CSRF token. */
  verifyCsrfToken(binding: string, submitted: unknown): boolean {
    if (typeof submitted !== 'string') return false;
    const expected = Buffer.from(this.csrfToken(binding));
    const given = Buffer.from(submitted);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * A keyed hash (HMAC-SHA-256) for secrets we must recognise but never store: recovery
   * codes, API keys. Without the root secret a leaked table cannot be brute-forced.
   */
  keyedHash(purpose: string, value: string): string {
    return createHmac('sha256', this.#hashKey).update(`${purpose}\0${value}`).digest('base64url');
  }

  /** AES-256-GCM with a random nonce; `context` binds a ciphertext to the record it belongs to. */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [ENVELOPE_VERSION, iv, body, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  decrypt(envelope: string, context: string): string {
    const [version, iv, body, tag] = envelope.split('.');
    if (version !== ENVELOPE_VERSION || !iv || !body || !tag) throw new Error('unrecognised ciphertext envelope');
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function derive(rootSecret: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootSecret, 'gatehouse', label, 32));
}

/**
 * The configured root secret, or in development one generated on first start and kept
 * in the data directory (mode 0600) so restarts keep sessions and encrypted records.
 */
export function resolveRootSecret(config: Config, logger: Logger): string {
  if (config.secret) return config.secret;
  const file = join(config.dataDir, 'secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const generated = randomBytes(48).toString('base64url');
    writeFileSync(file, generated, { mode: 0o600, flag: 'wx' });
    logger.warn('GATEHOUSE_SECRET is not set: generated a development secret', { file });
    return generated;
  }
}
