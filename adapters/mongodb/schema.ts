import mongoose, { Schema, type Connection } from 'mongoose';
import type { ClientRecord, SigningKeyRecord, UserRecord } from '../../src/store/port.js';

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
// destroy or revokeByGrantId: a consume that read the record just before it was deleted
// must still run into the mark. (Revoking a consumed code's grant is exactly what
// oidc-provider does when the code is replayed.) Ids of consumable models are random and
// never reused, so a mark outliving its record is harmless.

/** An oidc-provider record: the payload as JSON plus the fields it is looked up by. */
export interface OidcDoc {
  model: string;
  id: string;
  payload: string;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  /** A Date, not epoch ms, so that MongoDB can put a TTL index on it. */
  expiresAt: Date | null;
}
/** The consumption mark of an oidc record; expiresAt follows the record's. */
export type ConsumedDoc = Pick<OidcDoc, 'model' | 'id' | 'expiresAt'> & { consumedAt: number };
/** Client and signing-key documents hold their JSON objects as strings. */
export type ClientDoc = Omit<ClientRecord, 'metadata'> & { metadata: string };
/** @see ClientDoc */
export type SigningKeyDoc = Omit<SigningKeyRecord, 'publicJwk'> & { publicJwk: string };

/** How long a consumption mark outlives its record. */
export const MARK_GRACE_SECONDS = 300;

const options = { versionKey: false, id: false } as const;
const nullableString = { type: String, default: null };
const nullableDate = { type: Date, default: null };
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
      expiresAt: nullableDate,
    }, options), 'oidc'),
    Consumed: conn.model('OidcConsumed', new Schema<ConsumedDoc>({
      model: requiredString,
      id: requiredString,
      expiresAt: nullableDate,
      consumedAt: requiredNumber,
    }, options), 'oidc_consumed'),
    Users: conn.model('User', new Schema<UserRecord>({
      id: requiredString,
      email: requiredString,
      emailVerified: { type: Boolean, required: true },
      name: nullableString,
      passwordHash: nullableString,
      isAdmin: { type: Boolean, required: true },
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
      retiresAt: { type: Number, default: null },
    }, options), 'signing_keys'),
  };
}

/** Idempotent, so every open applies them; autoIndex is off to keep them explicit here. */
export async function createIndexes(conn: Connection): Promise<void> {
  const db = conn.db!;
  const [oidc, consumed] = [db.collection('oidc'), db.collection('oidc_consumed')];
  const indexes = [
    [oidc, { model: 1, id: 1 }, true],
    [oidc, { model: 1, grantId: 1 }, false],
    [oidc, { model: 1, uid: 1 }, false],
    [oidc, { model: 1, userCode: 1 }, false],
    [consumed, { model: 1, id: 1 }, true],
    [db.collection('users'), { id: 1 }, true],
    [db.collection('users'), { email: 1 }, true],
    [db.collection('clients'), { clientId: 1 }, true],
    [db.collection('signing_keys'), { kid: 1 }, true],
  ] as const;
  for (const [collection, keys, unique] of indexes) await collection.createIndex(keys, { unique });

  for (const [collection, expireAfterSeconds] of [[oidc, 0], [consumed, MARK_GRACE_SECONDS]] as const) {
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
