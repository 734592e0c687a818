import mongoose, { Schema, type Connection } from 'mongoose';
import type {
  ActionTokenRecord,
  ApiKeyRecord,
  AuditEvent,
  AvatarRecord,
  ClientRecord,
  IdentityRecord,
  PermissionRecord,
  Role,
  SigningKeyRecord,
  Theme,
  TotpRecord,
  UserRecord,
  UserStatus,
} from '../../src/store/port.js';

// The documents suit FerretDB 1.24 as well as MongoDB: payloads and JWKs are JSON strings
// (oidc-provider payloads hold nested arrays and keys with dots, which FerretDB cannot
// store), and nothing needs transactions, partial indexes or arrayFilters.
//
// FerretDB 1.24 also runs every update as read-document-then-write-document, so two
// concurrent conditional updates can both "win", and an update can overwrite a field
// another one has just set. Inserts and deletes, by contrast, are decided by the database
// (unique index, rows affected). So consumption is not a field of the oidc record but a
// document of its own in `oidc_consumed`: its unique (model, id) index lets exactly one
// consume insert it, and record upserts never rewrite it.
//
// A mark is removed only by expiry, MARK_GRACE_SECONDS after its record's, never by
// destroy, revokeByGrantId or revokeByAccount: a consume that read the record just before
// it was deleted must still run into the mark. (Revoking a consumed code's grant is exactly
// what oidc-provider does when the code is replayed.) Ids of consumable models are random
// and never reused, so a mark outliving its record is harmless.
//
// Action tokens are redeemed by deleting them, and for the same reason the winner is
// whoever's delete removed the document (deletedCount 1), not whoever a findOneAndDelete
// returned it to: FerretDB 1.24 answers findOneAndDelete from its read, so up to 20 of 20
// parallel calls got the token (measured), while find + deleteOne by _id had one winner
// in every trial. Issuing deletes the user's older token and inserts the new one; without
// a transaction two parallel issues could both survive, so a unique (userId, purpose)
// index keeps it to one token per user and purpose, as SQLite's transaction does.
//
// Caveat, not solved here: because updates rewrite the whole document, setPasswordHash,
// setEmailVerified and update running at once for one user can undo each other
// (measured: two parallel $set of different fields kept only one, every time). Callers
// must not run them at once for one user.
//
// User documents written before `theme`, `role` and `status` existed lack them, and are
// not backfilled: that would be one more whole-document update racing the ones above.
// Reads default them instead (`role` from the old `isAdmin`), and the role and status
// filters of a listing match such documents too.
//
// Second factors follow the same rules. A used TOTP step is a document of its own in
// `totp_steps`, whose unique (userId, step) index admits exactly one claim of a step; a
// recovery code is used by find + deleteOne by _id, like an action token's redemption.
//
// Attempts are counted, for the same reason, not with an $inc on a per-key counter
// (parallel increments would overwrite one another) but as one inserted document per
// attempt, which a count then adds up.
//
// Linked upstream identities are never updated: link inserts and its unique (provider,
// subject) index admits exactly one of parallel links of one identity; unlink is a
// deleteOne, whose deletedCount says whether it removed one.
//
// A permission is one document per (userId, toolId), kept to one by a unique index: of
// parallel first grants one inserts, and the others, refused, update its document.
//
// An API key's revocation is not a field of the key but a document of its own in
// `api_key_revocations`, like a consumption mark: `touch` rewrites the key's document on
// every use, and on FerretDB a touch that read the key just before a revocation would
// write `revokedAt: null` back (measured: 10 touches alongside a revocation undid it in
// 18 of 20 trials), so a key in use could not be revoked reliably. The
// unique keyId index of the marks also makes the first of parallel revocations the only
// one, and its time the one kept.
//
// Audit events are inserted and never changed; `details` is arbitrary JSON, so it is
// stored as a string (see oidc payloads above).

/** An oidc-provider record: the payload as JSON plus the fields it is looked up by. */
export interface OidcDoc {
  model: string;
  id: string;
  payload: string;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  /** The payload's accountId, for revokeByAccount; null when it has none. */
  accountId: string | null;
  /** A Date, not epoch ms, so that MongoDB can put a TTL index on it. */
  expiresAt: Date | null;
}
/** The consumption mark of an oidc record; expiresAt follows the record's. */
export type ConsumedDoc = Pick<OidcDoc, 'model' | 'id' | 'expiresAt'> & { consumedAt: number };
/**
 * A user. Documents written by older versions lack `theme` (read as 'system'), `status`
 * (read as 'active') and `role`, having `isAdmin` instead (read as 'admin' or 'viewer').
 * New writes store `role` and `status`, never `isAdmin`.
 */
export type UserDoc = Omit<UserRecord, 'theme' | 'role' | 'status'> & { theme?: Theme; role?: Role; status?: UserStatus; isAdmin?: boolean };
/** Client and signing-key documents hold their JSON objects as strings. */
export type ClientDoc = Omit<ClientRecord, 'metadata'> & { metadata: string };
/** @see ClientDoc */
export type SigningKeyDoc = Omit<SigningKeyRecord, 'publicJwk'> & { publicJwk: string };
/** An action token: `data` as JSON, and `expiresAt` a Date for the TTL index (see {@link OidcDoc}). */
export type ActionTokenDoc = Omit<ActionTokenRecord, 'data' | 'expiresAt'> & { data: string; expiresAt: Date };

/** A user's avatar, one per userId. The image is BSON binary data (a few hundred KB at
 * most, far below the 16 MiB document limit); put replaces all fields at once, so
 * FerretDB's whole-document updates lose nothing. */
export type AvatarDoc = AvatarRecord & { userId: string };

/** One recorded attempt: `at` in epoch ms, `expiresAt` a Date for the TTL index (see {@link OidcDoc}). */
export interface AttemptDoc {
  key: string;
  at: number;
  expiresAt: Date;
  /** How many attempts the document stands for; absent (1) on documents from before weights. */
  weight?: number;
}

/** A user's TOTP authenticator, one per userId; put replaces all fields at once (see {@link AvatarDoc}). */
export type TotpDoc = TotpRecord & { userId: string };

/** One used TOTP step: `expiresAt` a Date for the TTL index (see {@link OidcDoc}). */
export interface TotpStepDoc {
  userId: string;
  step: number;
  expiresAt: Date;
}

/** One unused recovery code (its keyed hash); using it deletes the document. */
export interface RecoveryCodeDoc {
  userId: string;
  codeHash: string;
}

/** An upstream identity linked to a user; inserted whole and never updated (see above). */
export type IdentityDoc = IdentityRecord;

/** A user's level in one tool; one document per (userId, toolId). */
export type PermissionDoc = PermissionRecord;

/** An API key without its revocation, which is a document of its own (see {@link ApiKeyRevocationDoc}). */
export type ApiKeyDoc = Omit<ApiKeyRecord, 'revokedAt'>;

/** The revocation of an API key, one per keyId; userId serves deleteForUser. */
export interface ApiKeyRevocationDoc {
  keyId: string;
  userId: string;
  revokedAt: number;
}

/**
 * An audit event, flattened so that each filter is a top-level indexed field: `actor` and
 * `target` as separate fields (null where absent), `details` as JSON.
 */
export interface AuditDoc {
  id: string;
  at: number;
  action: string;
  actorType: AuditEvent['actor']['type'];
  actorId: string | null;
  /** Null when no API key was used; the record then has no `apiKeyId` at all. */
  apiKeyId: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: string;
}

/** How long a consumption mark outlives its record. */
export const MARK_GRACE_SECONDS = 300;

const options = { versionKey: false, id: false } as const;
const nullableString = { type: String, default: null };
const nullableDate = { type: Date, default: null };
const nullableNumber = { type: Number, default: null };
const requiredString = { type: String, required: true };
const requiredNumber = { type: Number, required: true };

/** The models of one connection; each store has its own connection. */
export function defineModels(conn: Connection) {
  return {
    Oidc: conn.model('Oidc', new Schema<OidcDoc>({
      model: requiredString,
      id: requiredString,
      payload: requiredString,
      grantId: nullableString,
      uid: nullableString,
      userCode: nullableString,
      accountId: nullableString,
      expiresAt: nullableDate,
    }, options), 'oidc'),
    Consumed: conn.model('OidcConsumed', new Schema<ConsumedDoc>({
      model: requiredString,
      id: requiredString,
      expiresAt: nullableDate,
      consumedAt: requiredNumber,
    }, options), 'oidc_consumed'),
    Users: conn.model('User', new Schema<UserDoc>({
      id: requiredString,
      email: requiredString,
      emailVerified: { type: Boolean, required: true },
      name: nullableString,
      passwordHash: nullableString,
      role: { type: String, enum: ['admin', 'viewer'] },
      status: { type: String, enum: ['active', 'disabled'] },
      // Only in documents of older versions; declared so queries and updates may name it.
      isAdmin: Boolean,
      theme: { type: String, enum: ['light', 'dark', 'system'] },
      createdAt: requiredNumber,
      updatedAt: requiredNumber,
    }, options), 'users'),
    Clients: conn.model('Client', new Schema<ClientDoc>({
      clientId: requiredString,
      metadata: requiredString,
      secretCiphertext: nullableString,
      createdAt: requiredNumber,
      updatedAt: requiredNumber,
    }, options), 'clients'),
    SigningKeys: conn.model('SigningKey', new Schema<SigningKeyDoc>({
      kid: requiredString,
      alg: requiredString,
      publicJwk: requiredString,
      privateJwkCiphertext: requiredString,
      createdAt: requiredNumber,
      activatesAt: requiredNumber,
      retiresAt: nullableNumber,
    }, options), 'signing_keys'),
    ActionTokens: conn.model('ActionToken', new Schema<ActionTokenDoc>({
      tokenHash: requiredString,
      purpose: requiredString,
      userId: requiredString,
      data: requiredString,
      createdAt: requiredNumber,
      expiresAt: { type: Date, required: true },
    }, options), 'action_tokens'),
    Avatars: conn.model('Avatar', new Schema<AvatarDoc>({
      userId: requiredString,
      image: { type: Buffer, required: true },
      contentType: requiredString,
      updatedAt: requiredNumber,
    }, options), 'avatars'),
    Attempts: conn.model('Attempt', new Schema<AttemptDoc>({
      key: requiredString,
      at: requiredNumber,
      expiresAt: { type: Date, required: true },
      weight: Number,
    }, options), 'attempts'),
    Totp: conn.model('Totp', new Schema<TotpDoc>({
      userId: requiredString,
      secretCiphertext: requiredString,
      confirmed: { type: Boolean, required: true },
      createdAt: requiredNumber,
    }, options), 'totp'),
    TotpSteps: conn.model('TotpStep', new Schema<TotpStepDoc>({
      userId: requiredString,
      step: requiredNumber,
      expiresAt: { type: Date, required: true },
    }, options), 'totp_steps'),
    RecoveryCodes: conn.model('RecoveryCode', new Schema<RecoveryCodeDoc>({
      userId: requiredString,
      codeHash: requiredString,
    }, options), 'recovery_codes'),
    Identities: conn.model('Identity', new Schema<IdentityDoc>({
      provider: requiredString,
      subject: requiredString,
      userId: requiredString,
      email: nullableString,
      name: nullableString,
      picture: nullableString,
      createdAt: requiredNumber,
    }, options), 'identities'),
    Permissions: conn.model('Permission', new Schema<PermissionDoc>({
      userId: requiredString,
      toolId: requiredString,
      level: { type: String, enum: ['read', 'write', 'admin'], required: true },
      createdAt: requiredNumber,
      updatedAt: requiredNumber,
    }, options), 'permissions'),
    ApiKeys: conn.model('ApiKey', new Schema<ApiKeyDoc>({
      id: requiredString,
      userId: requiredString,
      name: requiredString,
      keyHash: requiredString,
      prefix: requiredString,
      toolId: nullableString,
      readOnly: { type: Boolean, required: true },
      createdAt: requiredNumber,
      expiresAt: nullableNumber,
      lastUsedAt: nullableNumber,
    }, options), 'api_keys'),
    ApiKeyRevocations: conn.model('ApiKeyRevocation', new Schema<ApiKeyRevocationDoc>({
      keyId: requiredString,
      userId: requiredString,
      revokedAt: requiredNumber,
    }, options), 'api_key_revocations'),
    Audit: conn.model('AuditEvent', new Schema<AuditDoc>({
      id: requiredString,
      at: requiredNumber,
      action: requiredString,
      actorType: { type: String, enum: ['user', 'client', 'anonymous'], required: true },
      actorId: nullableString,
      apiKeyId: nullableString,
      targetType: nullableString,
      targetId: nullableString,
      ip: nullableString,
      details: requiredString,
    }, options), 'audit'),
  };
}

/** Idempotent, so every open applies them; autoIndex is off to keep them explicit here. */
export async function createIndexes(conn: Connection): Promise<void> {
  const db = conn.db!;
  const [oidc, consumed, actionTokens, attempts, totpSteps] = [
    db.collection('oidc'),
    db.collection('oidc_consumed'),
    db.collection('action_tokens'),
    db.collection('attempts'),
    db.collection('totp_steps'),
  ];
  const indexes = [
    [oidc, { model: 1, id: 1 }, true],
    [oidc, { model: 1, grantId: 1 }, false],
    [oidc, { model: 1, uid: 1 }, false],
    [oidc, { model: 1, userCode: 1 }, false],
    [oidc, { accountId: 1 }, false],
    [consumed, { model: 1, id: 1 }, true],
    [db.collection('users'), { id: 1 }, true],
    [db.collection('users'), { email: 1 }, true],
    [db.collection('clients'), { clientId: 1 }, true],
    [db.collection('signing_keys'), { kid: 1 }, true],
    [actionTokens, { tokenHash: 1 }, true],
    // One token per user and purpose; also serves deleteForUser (a prefix).
    [actionTokens, { userId: 1, purpose: 1 }, true],
    // One avatar per user: a racing first put fails instead of adding a second document.
    [db.collection('avatars'), { userId: 1 }, true],
    // count filters by key and a range of at; clear by key (a prefix).
    [attempts, { key: 1, at: 1 }, false],
    // One authenticator per user: a racing first put fails (and is retried) instead of adding a second.
    [db.collection('totp'), { userId: 1 }, true],
    // Admits exactly one claim of a step; also serves the later-step lookup (a prefix).
    [totpSteps, { userId: 1, step: 1 }, true],
    // A code is listed once per user; also serves count and replace by userId (a prefix).
    [db.collection('recovery_codes'), { userId: 1, codeHash: 1 }, true],
    // One user per upstream identity: of parallel links of one identity exactly one inserts.
    [db.collection('identities'), { provider: 1, subject: 1 }, true],
    // listForUser (sorted by createdAt, provider), unlink and deleteForUser.
    [db.collection('identities'), { userId: 1 }, false],
    // One permission per user and tool: of parallel first grants exactly one inserts.
    // Also serves listForUser (ordered by toolId) and deleteForUser (a prefix).
    [db.collection('permissions'), { userId: 1, toolId: 1 }, true],
    // listForTool (ordered by userId) and deleteForTool.
    [db.collection('permissions'), { toolId: 1, userId: 1 }, false],
    [db.collection('api_keys'), { id: 1 }, true],
    [db.collection('api_keys'), { keyHash: 1 }, true],
    // listForUser (sorted by createdAt, id) and deleteForUser.
    [db.collection('api_keys'), { userId: 1 }, false],
    // One revocation per key: of parallel revocations exactly one inserts.
    [db.collection('api_key_revocations'), { keyId: 1 }, true],
    [db.collection('api_key_revocations'), { userId: 1 }, false],
    // The audit log is listed newest first by id; each filter has its own index.
    [db.collection('audit'), { id: 1 }, true],
    [db.collection('audit'), { action: 1, id: 1 }, false],
    [db.collection('audit'), { actorId: 1, id: 1 }, false],
    [db.collection('audit'), { targetId: 1, id: 1 }, false],
    [db.collection('audit'), { at: 1 }, false],
  ] as const;
  for (const [collection, keys, unique] of indexes) await collection.createIndex(keys, { unique });

  for (const [collection, expireAfterSeconds] of [[oidc, 0], [consumed, MARK_GRACE_SECONDS], [actionTokens, 0], [attempts, 0], [totpSteps, 0]] as const) {
    try {
      // MongoDB then deletes expired documents itself; the sweeper covers servers without TTL.
      await collection.createIndex({ expiresAt: 1 }, { expireAfterSeconds });
    } catch (err) {
      // FerretDB 1.24 answers NotImplemented (238); others may call the option invalid (197).
      if (!(err instanceof mongoose.mongo.MongoServerError && (err.code === 238 || err.code === 197))) throw err;
      await collection.createIndex({ expiresAt: 1 });
    }
  }
}
