import { randomBytes, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import type { Secrets } from '../security/secrets.js';
import type { ApiKeyRecord, Store, UserRecord } from '../store/port.js';
import type { AdminDeps, RequestedBy } from './user-admin.js';

/** Every key starts with this, so secret scanners (and people) recognise a leaked one. */
export const API_KEY_PREFIX = 'ghk_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 32 random bytes (256 bits) take 43 base62 digits; the CRC-32 checksum takes 6. */
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);
/** How much of a key a listing shows: enough to tell keys apart, far too little to use. */
const DISPLAY_LENGTH = API_KEY_PREFIX.length + 8;
/** lastUsedAt is written at most this often per key, so busy keys do not make every request a write. */
const TOUCH_INTERVAL_MS = 60_000;

function base62(bytes: Buffer, length: number): string {
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  for (let i = 0; i < length; i++) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out;
}

const checksum = (body: string) => {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return base62(crc, CHECKSUM_LENGTH);
};

export function generateApiKey(): string {
  const body = base62(randomBytes(32), BODY_LENGTH);
  return `${API_KEY_PREFIX}${body}${checksum(body)}`;
}

/** The number a run of base62 digits spells: the inverse of base62() for a checksum. */
function fromBase62(digits: string): number {
  let n = 0;
  for (const digit of digits) n = n * 62 + BASE62.indexOf(digit);
  return n;
}

/**
 * Shape and checksum: a typo or a made-up key is refused without touching the store.
 * The checksum is compared as a number, decoded from the key, because encoding the
 * CRC the way generateApiKey does goes through BigInt: a few µs on every API call.
 */
export function isWellFormedApiKey(key: string): boolean {
  if (!KEY_PATTERN.test(key)) return false;
  const body = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + BODY_LENGTH);
  return fromBase62(key.slice(-CHECKSUM_LENGTH)) === crc32(body);
}

export const hashApiKey = (secrets: Secrets, key: string) => secrets.keyedHash('api-key', key);

const isUsable = (k: ApiKeyRecord, now: number) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now);

export const apiKeyInputSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    /** Narrows the key to one tool: it can then only be checked against that tool. */
    tool: z.string().min(1).max(128).optional(),
    /** A read-only key can read but not change anything, and caps its permission at `read`. */
    read_only: z.boolean().default(false),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
export type ApiKeyInput = z.input<typeof apiKeyInputSchema>;

export interface ApiKeyDeps extends AdminDeps {
  readonly secrets: Secrets;
  readonly keysPerUser: number;
}

/**
 * Makes a key for the user. The key is returned once and never stored: only its keyed
 * hash is. The per-user limit counts keys that still work.
 */
export async function createApiKey(deps: ApiKeyDeps, user: UserRecord, input: ApiKeyInput, by: RequestedBy): Promise<{ key: string; record: ApiKeyRecord }> {
  const valid = apiKeyInputSchema.parse(input);
  const now = Date.now();
  const usable = (await deps.store.apiKeys.listForUser(user.id)).filter((k) => isUsable(k, now));
  if (usable.length >= deps.keysPerUser) {
    throw new HttpError(403, 'key_limit_reached', `You already have ${deps.keysPerUser} API keys, the most allowed. Revoke one to make another.`);
  }
  if (valid.tool && !(await deps.store.clients.find(valid.tool))) throw new HttpError(400, 'invalid_request', `tool: no tool has the id ${valid.tool}`);
  const key = generateApiKey();
  const record: ApiKeyRecord = {
    id: randomUUID(),
    userId: user.id,
    name: valid.name,
    keyHash: hashApiKey(deps.secrets, key),
    prefix: key.slice(0, DISPLAY_LENGTH),
    toolId: valid.tool ?? null,
    readOnly: valid.read_only,
    createdAt: now,
    expiresAt: valid.expires_in_days ? now + valid.expires_in_days * 86_400_000 : null,
    lastUsedAt: null,
    revokedAt: null,
  };
  await deps.store.apiKeys.create(record);
  await deps.audit.record('api_key.created', { ...by, target: { type: 'api_key', id: record.id }, details: { owner: user.id, name: record.name } });
  return { key, record };
}

/** Revokes a key; every instance refuses it from the next request on. False when already revoked. */
export async function revokeApiKey(deps: AdminDeps, key: ApiKeyRecord, by: RequestedBy): Promise<boolean> {
  const revoked = await deps.store.apiKeys.revoke(key.id, Date.now());
  if (revoked) await deps.audit.record('api_key.revoked', { ...by, target: { type: 'api_key', id: key.id }, details: { owner: key.userId } });
  return revoked;
}

/** A key as listings show it: never the key, never its hash. */
export function apiKeyView(k: ApiKeyRecord) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: k.id,
    user_id: k.userId,
    name: k.name,
    prefix: k.prefix,
    tool: k.toolId,
    read_only: k.readOnly,
    created_at: new Date(k.createdAt).toISOString(),
    last_used_at: iso(k.lastUsedAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
  };
}

/**
 * Checks presented keys. Every check reads the key's record from the store, so a
 * revocation on any instance counts at once; only the lastUsedAt write is throttled.
 */
export class ApiKeyVerifier {
  readonly #lastTouched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly secrets: Secrets,
  ) {}

  /** The key and its (active) user, or undefined for anything unusable. */
  async verify(key: string): Promise<{ record: ApiKeyRecord; user: UserRecord } | undefined> {
    if (!isWellFormedApiKey(key)) return undefined;
    const record = await this.store.apiKeys.findByHash(hashApiKey(this.secrets, key));
    const now = Date.now();
    if (!record || !isUsable(record, now)) return undefined;
    const user = await this.store.users.findById(record.userId);
    if (!user || user.status !== 'active') return undefined;
    this.#touch(record, now);
    return { record, user };
  }

  #touch(record: ApiKeyRecord, now: number): void {
    const last = Math.max(record.lastUsedAt ?? 0, this.#lastTouched.get(record.id) ?? 0);
    if (now - last < TOUCH_INTERVAL_MS) return;
    this.#lastTouched.set(record.id, now);
    // Bounded memory: entries older than the interval no longer decide anything.
    if (this.#lastTouched.size > 10_000) {
      for (const [id, at] of this.#lastTouched) if (now - at >= TOUCH_INTERVAL_MS) this.#lastTouched.delete(id);
    }
    void this.store.apiKeys.touch(record.id, now).catch(() => this.#lastTouched.delete(record.id));
  }
}
