import mongoose from 'mongoose';
import {
  AlreadyExistsError,
  NotFoundError,
  StoreUnavailableError,
  type ActionPurpose,
  type ActionTokenRecord,
  type ApiKeyRecord,
  type AuditEvent,
  type AuditQuery,
  type ClientRecord,
  type IdentityRecord,
  type OidcPayload,
  type PermissionRecord,
  type SigningKeyRecord,
  type Store,
  type UserQuery,
  type UserRecord,
} from '../../src/store/port.js';
import {
  MARK_GRACE_SECONDS,
  createIndexes,
  defineModels,
  type ActionTokenDoc,
  type ApiKeyDoc,
  type AuditDoc,
  type ClientDoc,
  type IdentityDoc,
  type OidcDoc,
  type PermissionDoc,
  type SigningKeyDoc,
  type UserDoc,
} from './schema.js';
import { mapStoreErrors } from '../../src/store/wrap-store.js';

/**
 * The MongoDB driver (also runs on FerretDB 1.24). Commands are not buffered and server
 * selection gives up after 2 s, so an unreachable database surfaces quickly as
 * {@link StoreUnavailableError} instead of hanging requests.
 */
export async function openMongoStore(url: string): Promise<Store> {
  const conn = mongoose.createConnection(url, { bufferCommands: false, serverSelectionTimeoutMS: 2000, autoIndex: false, autoCreate: false });
  try {
    await conn.asPromise();
    await createIndexes(conn);
  } catch (err) {
    await conn.close().catch(() => {});
    throw toStoreError(err);
  }
  const {
    Oidc, Consumed, Users, Clients, SigningKeys, ActionTokens, Avatars, Attempts, Totp, TotpSteps, RecoveryCodes, Identities,
    Permissions, ApiKeys, ApiKeyRevocations, Audit,
  } = defineModels(conn);

  const now = () => Date.now();
  const live = () => ({ $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] });
  const toPayload = (payload: string, consumedAt: number | undefined): OidcPayload => {
    const parsed = JSON.parse(payload) as OidcPayload;
    // oidc-provider reads `consumed` as epoch seconds.
    return consumedAt === undefined ? parsed : { ...parsed, consumed: Math.floor(consumedAt / 1000) };
  };
  const findOidc = async (model: string, filter: Partial<OidcDoc>): Promise<OidcPayload | undefined> => {
    const doc = await Oidc.findOne({ model, ...filter, ...live() }, { id: 1, payload: 1 }).lean();
    if (!doc) return undefined;
    const mark = await Consumed.findOne({ model, id: doc.id }, { consumedAt: 1 }).lean();
    return toPayload(doc.payload, mark?.consumedAt);
  };
  const liveToken = (tokenHash: string, purpose: ActionPurpose) => ({ tokenHash, purpose, expiresAt: { $gt: new Date(now()) } });
  /** The keys with their revocation marks: one query for all the marks rather than one per key. */
  const withRevocations = async (docs: ApiKeyDoc[]): Promise<ApiKeyRecord[]> => {
    const marks = await ApiKeyRevocations.find({ keyId: { $in: docs.map((d) => d.id) } }, { keyId: 1, revokedAt: 1 }).lean();
    const revokedAt = new Map(marks.map((m) => [m.keyId, m.revokedAt]));
    return docs.map((doc) => toApiKey(doc, revokedAt.get(doc.id)));
  };
  const findApiKey = async (filter: Pick<ApiKeyDoc, 'id'> | Pick<ApiKeyDoc, 'keyHash'>): Promise<ApiKeyRecord | undefined> => {
    const doc = await ApiKeys.findOne(filter).lean();
    return doc ? (await withRevocations([doc]))[0] : undefined;
  };

  return mapStoreErrors({
    driver: 'mongodb',
    oidc: {
      async upsert(model, id, payload, expiresIn) {
        const expiresAt = expiresIn ? new Date(now() + expiresIn * 1000) : null;
        const fields = {
          payload: JSON.stringify(payload),
          grantId: payload.grantId ?? null,
          uid: payload.uid ?? null,
          userCode: payload.userCode ?? null,
          accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
          expiresAt,
        };
        await retryLostUpsert(() => Oidc.updateOne({ model, id }, { $set: fields }, { upsert: true }));
        // Keeps an existing mark's lifetime in step with the record. A payload that says
        // consumed creates the mark if missing, but never replaces its time (SQL's COALESCE).
        const consumedAt = typeof payload.consumed === 'number' ? payload.consumed * 1000 : undefined;
        const upsert = consumedAt !== undefined;
        await retryLostUpsert(() =>
          Consumed.updateOne({ model, id }, { $set: { expiresAt }, ...(upsert && { $setOnInsert: { consumedAt } }) }, { upsert }),
        );
      },
      find: (model, id) => findOidc(model, { id }),
      findByUid: (model, uid) => findOidc(model, { uid }),
      findByUserCode: (model, userCode) => findOidc(model, { userCode }),
      // Not one conditional update: on FerretDB several of those can win (see schema.ts).
      // The unique index on oidc_consumed admits exactly one insert of the mark.
      async consume(model, id) {
        const doc = await Oidc.findOne({ model, id }, { expiresAt: 1 }).lean();
        if (!doc) return false;
        try {
          await Consumed.insertOne({ model, id, expiresAt: doc.expiresAt, consumedAt: now() });
          return true;
        } catch (err) {
          if (isDuplicateKey(err)) return false;
          throw err;
        }
      },
      // Marks stay until they expire; see schema.ts.
      async destroy(model, id) {
        await Oidc.deleteOne({ model, id });
      },
      async revokeByGrantId(model, grantId) {
        await Oidc.deleteMany({ model, grantId });
      },
      async revokeByAccount(accountId, keepSessionId) {
        const keep = keepSessionId === undefined ? {} : { $nor: [{ model: 'Session', id: keepSessionId }] };
        await Oidc.deleteMany({ accountId, ...keep });
      },
      async listByAccount(model, accountId) {
        const docs = await Oidc.find({ model, accountId, ...live() }, { id: 1, payload: 1 }).lean();
        // One query for all the marks rather than one per record.
        const marks = await Consumed.find({ model, id: { $in: docs.map((d) => d.id) } }, { id: 1, consumedAt: 1 }).lean();
        const consumedAt = new Map(marks.map((m) => [m.id, m.consumedAt]));
        return docs.map(({ id, payload }) => ({ id, payload: toPayload(payload, consumedAt.get(id)) }));
      },
    },
    users: {
      async create(user) {
        const { id, email, emailVerified, name, passwordHash, role, status = 'active', theme = 'system' } = user;
        const record: UserRecord = { id, email: email.toLowerCase(), emailVerified, name, passwordHash, role, status, theme, createdAt: now(), updatedAt: now() };
        await insertUnique(Users.insertOne(record), `user ${record.email} exists`);
        return record;
      },
      findById: async (id) => toUser(await Users.findOne({ id }).lean()),
      findByEmail: async (email) => toUser(await Users.findOne({ email: email.toLowerCase() }).lean()),
      count: async () => Users.countDocuments(),
      async setPasswordHash(id, passwordHash) {
        const { matchedCount } = await Users.updateOne({ id }, { $set: { passwordHash, updatedAt: now() } });
        if (matchedCount !== 1) throw new NotFoundError(`user ${id}`);
      },
      async upgradePasswordHash(id, current, passwordHash) {
        const { modifiedCount } = await Users.updateOne({ id, passwordHash: current }, { $set: { passwordHash, updatedAt: now() } });
        return modifiedCount === 1;
      },
      async setEmailVerified(id) {
        const { matchedCount } = await Users.updateOne({ id }, { $set: { emailVerified: true, updatedAt: now() } });
        if (matchedCount !== 1) throw new NotFoundError(`user ${id}`);
      },
      // A plain $set: on FerretDB it can undo a parallel update of the same user (see schema.ts).
      // One update, so an email refused by the unique index leaves every field as it was.
      // The index decides; the lookup before it only gives a clear answer on servers that
      // report the refusal of an update as something other than a duplicate key.
      async update(id, changes) {
        const { email, emailVerified, name, role, status, theme } = changes;
        const fields = {
          ...(email !== undefined && { email: email.toLowerCase() }),
          ...(emailVerified !== undefined && { emailVerified }),
          ...('name' in changes && { name: name ?? null }),
          ...(role && { role }),
          ...(status && { status }),
          ...(theme && { theme }),
          updatedAt: now(),
        };
        // A role written replaces an older document's isAdmin, which would otherwise linger unread.
        const update = role ? { $set: fields, $unset: { isAdmin: 1 } } : { $set: fields };
        const taken = () => new AlreadyExistsError(`user ${fields.email} exists`);
        if (fields.email !== undefined && (await Users.exists({ email: fields.email, id: { $ne: id } }))) throw taken();
        let matchedCount: number;
        try {
          ({ matchedCount } = await Users.updateOne({ id }, update));
        } catch (err) {
          if (isDuplicateKey(err) || isUniqueViolationOfUpdate(err)) throw taken();
          throw err;
        }
        if (matchedCount !== 1) throw new NotFoundError(`user ${id}`);
      },
      list: async (query) => (await Users.find(userFilter(query)).sort({ email: 1 }).limit(query.limit).lean()).map((doc) => toUser(doc)!),
      delete: async (id) => (await Users.deleteOne({ id })).deletedCount === 1,
    },
    clients: {
      async upsert({ clientId, metadata, secretCiphertext }) {
        const doc = await retryLostUpsert(() =>
          Clients.findOneAndUpdate(
            { clientId },
            { $set: { metadata: JSON.stringify(metadata), secretCiphertext, updatedAt: now() }, $setOnInsert: { createdAt: now() } },
            { upsert: true, returnDocument: 'after' },
          ).lean(),
        );
        return toClient(doc!);
      },
      find: async (clientId) => {
        const doc = await Clients.findOne({ clientId }).lean();
        return doc ? toClient(doc) : undefined;
      },
      list: async () => (await Clients.find().sort({ createdAt: 1, clientId: 1 }).lean()).map(toClient),
      delete: async (clientId) => (await Clients.deleteOne({ clientId })).deletedCount === 1,
    },
    // The unique (userId, toolId) index keeps one document per pair: see schema.ts.
    permissions: {
      async set(userId, toolId, level) {
        const doc = await retryLostUpsert(() =>
          Permissions.findOneAndUpdate(
            { userId, toolId },
            { $set: { level, updatedAt: now() }, $setOnInsert: { createdAt: now() } },
            { upsert: true, returnDocument: 'after' },
          ).lean(),
        );
        return toPermission(doc!);
      },
      find: async (userId, toolId) => {
        const doc = await Permissions.findOne({ userId, toolId }).lean();
        return doc ? toPermission(doc) : undefined;
      },
      listForUser: async (userId) => (await Permissions.find({ userId }).sort({ toolId: 1 }).lean()).map(toPermission),
      listForTool: async (toolId) => (await Permissions.find({ toolId }).sort({ userId: 1 }).lean()).map(toPermission),
      revoke: async (userId, toolId) => (await Permissions.deleteOne({ userId, toolId })).deletedCount === 1,
      async deleteForUser(userId) {
        await Permissions.deleteMany({ userId });
      },
      async deleteForTool(toolId) {
        await Permissions.deleteMany({ toolId });
      },
    },
    // Revocations are documents of their own, never a field a touch could overwrite: see schema.ts.
    apiKeys: {
      async create(key) {
        const { id, userId, name, keyHash, prefix, toolId, readOnly, createdAt, expiresAt, lastUsedAt, revokedAt } = key;
        await insertUnique(
          ApiKeys.insertOne({ id, userId, name, keyHash, prefix, toolId, readOnly, createdAt, expiresAt, lastUsedAt }),
          `api key ${id} exists`,
        );
        // Not expected (keys are created unrevoked), but the record is stored as given.
        if (revokedAt !== null) await ApiKeyRevocations.insertOne({ keyId: id, userId, revokedAt });
      },
      findByHash: (keyHash) => findApiKey({ keyHash }),
      findById: (id) => findApiKey({ id }),
      listForUser: async (userId) => withRevocations(await ApiKeys.find({ userId }).sort({ createdAt: 1, id: 1 }).lean()),
      // The unique keyId index admits one mark, so the first revocation's time is kept.
      async revoke(id, at) {
        const key = await ApiKeys.findOne({ id }, { userId: 1 }).lean();
        if (!key) return false;
        try {
          await ApiKeyRevocations.insertOne({ keyId: id, userId: key.userId, revokedAt: at });
          return true;
        } catch (err) {
          if (isDuplicateKey(err)) return false;
          throw err;
        }
      },
      // Parallel touches may overwrite one another's time; any recent use will do.
      async touch(id, at) {
        await ApiKeys.updateOne({ id }, { $set: { lastUsedAt: at } });
      },
      async deleteForUser(userId) {
        await ApiKeys.deleteMany({ userId });
        await ApiKeyRevocations.deleteMany({ userId });
      },
    },
    audit: {
      async append({ id, at, action, actor, target, ip, details }) {
        await Audit.insertOne({
          id,
          at,
          action,
          actorType: actor.type,
          actorId: actor.id,
          apiKeyId: actor.apiKeyId ?? null,
          targetType: target?.type ?? null,
          targetId: target?.id ?? null,
          ip,
          details: JSON.stringify(details),
        });
      },
      list: async (query) => (await Audit.find(auditFilter(query)).sort({ id: -1 }).limit(query.limit).lean()).map(toAuditEvent),
    },
    signingKeys: {
      list: async () => (await SigningKeys.find().sort({ createdAt: 1, kid: 1 }).lean()).map(toSigningKey),
      async insert(key) {
        await insertUnique(SigningKeys.insertOne({ ...key, publicJwk: JSON.stringify(key.publicJwk) }), `signing key ${key.kid} exists`);
      },
      async retire(kid, retiresAt) {
        await SigningKeys.updateOne({ kid, retiresAt: null }, { $set: { retiresAt } });
      },
      async delete(kid) {
        await SigningKeys.deleteOne({ kid });
      },
    },
    actionTokens: {
      async issue(token) {
        const { tokenHash, userId, purpose } = token;
        await ActionTokens.deleteMany({ userId, purpose });
        try {
          await ActionTokens.insertOne({ ...token, data: JSON.stringify(token.data), expiresAt: new Date(token.expiresAt) });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          // FerretDB does not say which unique index refused the insert. If no other token
          // holds our hash, a parallel issue took the (userId, purpose) slot after our delete
          // (see schema.ts): the outcome is that of ours coming first and being voided by it,
          // which SQLite's transaction allows too, so it is no error. Retrying instead would
          // only shift the loss, and under many parallel issues could give up.
          const holder = await ActionTokens.findOne({ tokenHash }, { userId: 1, purpose: 1 }).lean();
          if (holder && (holder.userId !== userId || holder.purpose !== purpose)) throw err;
        }
      },
      find: async (tokenHash, purpose) => toActionToken(await ActionTokens.findOne(liveToken(tokenHash, purpose)).lean()),
      // Not findOneAndDelete: FerretDB returns the token to several parallel callers. Only
      // the caller whose delete removed the document has redeemed it (see schema.ts).
      async redeem(tokenHash, purpose) {
        const doc = await ActionTokens.findOne(liveToken(tokenHash, purpose)).lean();
        if (!doc) return undefined;
        const { deletedCount } = await ActionTokens.deleteOne({ _id: doc._id });
        return deletedCount === 1 ? toActionToken(doc) : undefined;
      },
      async deleteForUser(userId) {
        await ActionTokens.deleteMany({ userId });
      },
    },
    avatars: {
      // $set of every field replaces the avatar whole, which FerretDB's read-then-write does too.
      async put(userId, { image, contentType, updatedAt }) {
        await retryLostUpsert(() => Avatars.updateOne({ userId }, { $set: { image, contentType, updatedAt } }, { upsert: true }));
      },
      async get(userId) {
        const doc = await Avatars.findOne({ userId }, { image: 1, contentType: 1, updatedAt: 1 }).lean();
        return doc ? { image: toBuffer(doc.image), contentType: doc.contentType, updatedAt: doc.updatedAt } : undefined;
      },
      version: async (userId) => (await Avatars.findOne({ userId }, { updatedAt: 1 }).lean())?.updatedAt,
      async delete(userId) {
        await Avatars.deleteOne({ userId });
      },
    },
    // One document per attempt, never an $inc: see schema.ts.
    attempts: {
      async record(keys, at, expiresAt, weight = 1) {
        if (keys.length === 0) return;
        await Attempts.insertMany(keys.map((key) => ({ key, at, expiresAt: new Date(expiresAt), weight })));
      },
      // The expiresAt filter matters: the sweeper or MongoDB's TTL monitor may not have run yet.
      // Summed here, not with $group: a key holds at most a window's worth of records.
      async count(key, since) {
        const docs = await Attempts.find({ key, at: { $gte: since }, expiresAt: { $gt: new Date() } }, { weight: 1, _id: 0 }).lean();
        return docs.reduce((sum, doc) => sum + (doc.weight ?? 1), 0);
      },
      async clear(key) {
        await Attempts.deleteMany({ key });
      },
    },
    secondFactors: {
      async getTotp(userId) {
        const doc = await Totp.findOne({ userId }, { secretCiphertext: 1, confirmed: 1, createdAt: 1 }).lean();
        return doc ? { secretCiphertext: doc.secretCiphertext, confirmed: doc.confirmed, createdAt: doc.createdAt } : undefined;
      },
      // $set of every field replaces the authenticator whole, as for avatars.
      async putTotp(userId, { secretCiphertext, confirmed, createdAt }) {
        await retryLostUpsert(() => Totp.updateOne({ userId }, { $set: { secretCiphertext, confirmed, createdAt } }, { upsert: true }));
      },
      async deleteAll(userId) {
        await Totp.deleteMany({ userId });
        await TotpSteps.deleteMany({ userId });
        await RecoveryCodes.deleteMany({ userId });
      },
      // As SQLite: refused after a later step, else an insert. Not a conditional update (on
      // FerretDB several could win): the unique (userId, step) index admits one insert, so
      // exactly one parallel claim of a step wins.
      async claimTotpStep(userId, step, expiresAt) {
        if (await TotpSteps.exists({ userId, step: { $gt: step } })) return false;
        try {
          await TotpSteps.insertOne({ userId, step, expiresAt: new Date(expiresAt) });
          return true;
        } catch (err) {
          if (isDuplicateKey(err)) return false;
          throw err;
        }
      },
      // No transaction: a concurrent reader may see no codes between the two writes.
      async replaceRecoveryCodes(userId, codeHashes) {
        await RecoveryCodes.deleteMany({ userId });
        if (codeHashes.length > 0) await RecoveryCodes.insertMany(codeHashes.map((codeHash) => ({ userId, codeHash })));
      },
      // Not findOneAndDelete, which FerretDB answers to several callers: the code is used by
      // whoever's delete by _id removed it, as with action tokens (see schema.ts).
      async useRecoveryCode(userId, codeHash) {
        const doc = await RecoveryCodes.findOne({ userId, codeHash }, { _id: 1 }).lean();
        if (!doc) return false;
        return (await RecoveryCodes.deleteOne({ _id: doc._id })).deletedCount === 1;
      },
      countRecoveryCodes: async (userId) => RecoveryCodes.countDocuments({ userId }),
    },
    // Inserts and deletes only, never updates: see schema.ts.
    identities: {
      find: async (provider, subject) => toIdentity(await Identities.findOne({ provider, subject }).lean()),
      listForUser: async (userId) => (await Identities.find({ userId }).sort({ createdAt: 1, provider: 1 }).lean()).map((doc) => toIdentity(doc)!),
      async link(identity) {
        const { provider, subject, userId, email, name, picture, createdAt } = identity;
        await insertUnique(
          Identities.insertOne({ provider, subject, userId, email, name, picture, createdAt }),
          `identity ${provider}:${subject} is linked`,
        );
      },
      unlink: async (userId, provider, subject) => (await Identities.deleteOne({ userId, provider, subject })).deletedCount === 1,
      async deleteForUser(userId) {
        await Identities.deleteMany({ userId });
      },
    },
    async ping() {
      await conn.db!.admin().ping();
    },
    async sweepExpired(at = now()) {
      await Consumed.deleteMany({ expiresAt: { $lte: new Date(at - MARK_GRACE_SECONDS * 1000) } });
      const records = await Oidc.deleteMany({ expiresAt: { $lte: new Date(at) } });
      const tokens = await ActionTokens.deleteMany({ expiresAt: { $lte: new Date(at) } });
      const attempts = await Attempts.deleteMany({ expiresAt: { $lte: new Date(at) } });
      const steps = await TotpSteps.deleteMany({ expiresAt: { $lte: new Date(at) } });
      return records.deletedCount + tokens.deletedCount + attempts.deletedCount + steps.deletedCount;
    },
    async close() {
      await conn.close();
    },
  }, toStoreError);
}

function isDuplicateKey(err: unknown): boolean {
  return err instanceof mongoose.mongo.MongoServerError && err.code === 11000;
}

/**
 * FerretDB 1.24 (SQLite backend) refuses an update that breaks a unique index not with a
 * duplicate key (11000) but with InternalError (1) and SQLite's message (measured).
 */
function isUniqueViolationOfUpdate(err: unknown): boolean {
  return err instanceof mongoose.mongo.MongoServerError && err.code === 1 && /UNIQUE constraint failed/.test(err.message);
}

/**
 * Two first upserts of one key race to insert; MongoDB retries the loser itself, FerretDB
 * reports a duplicate key. Retried once, the loser finds and updates the winner's document.
 */
async function retryLostUpsert<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isDuplicateKey(err)) return write();
    throw err;
  }
}

/** Runs an insert, turning a unique-index violation into {@link AlreadyExistsError}. */
async function insertUnique(write: Promise<unknown>, duplicateMessage: string): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (isDuplicateKey(err)) throw new AlreadyExistsError(duplicateMessage);
    throw err;
  }
}

/** "Cannot reach the database" becomes {@link StoreUnavailableError} (HTTP 503). */
function toStoreError(err: unknown): unknown {
  const unreachable =
    err instanceof mongoose.mongo.MongoNetworkError ||
    err instanceof mongoose.mongo.MongoServerSelectionError ||
    err instanceof mongoose.Error.MongooseServerSelectionError;
  return unreachable ? new StoreUnavailableError(`database unreachable: ${err.message}`, { cause: err }) : err;
}

/**
 * A lean read gives BSON Binary, not Buffer. Its `buffer` may be longer than the data,
 * so take value(); copied into a plain Buffer, which callers (and deepEqual) expect.
 */
function toBuffer(image: Buffer | mongoose.mongo.Binary): Buffer {
  return Buffer.from(image instanceof mongoose.mongo.Binary ? image.value() : image);
}

/** Reads documents of older versions too: see {@link UserDoc}. */
function toUser(doc: UserDoc | null): UserRecord | undefined {
  if (!doc) return undefined;
  const { id, email, emailVerified, name, passwordHash, isAdmin, theme = 'system', status = 'active', createdAt, updatedAt } = doc;
  const role = doc.role ?? (isAdmin ? 'admin' : 'viewer');
  return { id, email, emailVerified, name, passwordHash, role, status, theme, createdAt, updatedAt };
}

/**
 * The filter of a user listing. Documents of older versions have `isAdmin` instead of a
 * role and no status (see {@link UserDoc}); the role and status conditions match them as
 * {@link toUser} reads them.
 */
function userFilter({ email, role, status, after }: UserQuery): mongoose.QueryFilter<UserDoc> {
  const emailCondition = {
    // Emails are stored lower-cased; the needle is literal text, not a pattern.
    ...(email !== undefined && { $regex: escapeRegExp(email.toLowerCase()) }),
    ...(after !== undefined && { $gt: after }),
  };
  const legacyRole = role === 'admin' ? { isAdmin: true } : { isAdmin: { $ne: true } };
  const conditions = [
    ...(role ? [{ $or: [{ role }, { role: { $exists: false }, ...legacyRole }] }] : []),
    ...(status === 'active' ? [{ $or: [{ status }, { status: { $exists: false } }] }] : status ? [{ status }] : []),
  ];
  return {
    ...(Object.keys(emailCondition).length > 0 && { email: emailCondition }),
    ...(conditions.length > 0 && { $and: conditions }),
  };
}

/** Escapes every character a regular expression treats specially. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toClient({ clientId, metadata, secretCiphertext, createdAt, updatedAt }: ClientDoc): ClientRecord {
  return { clientId, metadata: JSON.parse(metadata) as Record<string, unknown>, secretCiphertext, createdAt, updatedAt };
}

function toActionToken(doc: ActionTokenDoc | null): ActionTokenRecord | undefined {
  if (!doc) return undefined;
  const { tokenHash, purpose, userId, data, createdAt, expiresAt } = doc;
  return { tokenHash, purpose, userId, data: JSON.parse(data) as Record<string, string>, createdAt, expiresAt: expiresAt.getTime() };
}

function toIdentity(doc: IdentityDoc | null): IdentityRecord | undefined {
  if (!doc) return undefined;
  const { provider, subject, userId, email, name, picture, createdAt } = doc;
  return { provider, subject, userId, email, name, picture, createdAt };
}

function toPermission({ userId, toolId, level, createdAt, updatedAt }: PermissionDoc): PermissionRecord {
  return { userId, toolId, level, createdAt, updatedAt };
}

function toApiKey(doc: ApiKeyDoc, revokedAt: number | undefined): ApiKeyRecord {
  const { id, userId, name, keyHash, prefix, toolId, readOnly, createdAt, expiresAt, lastUsedAt } = doc;
  return { id, userId, name, keyHash, prefix, toolId, readOnly, createdAt, expiresAt, lastUsedAt, revokedAt: revokedAt ?? null };
}

/** The filter of an audit listing; `since` and `until` are inclusive, `before` is not. */
function auditFilter({ action, actorId, targetId, since, until, before }: AuditQuery): mongoose.QueryFilter<AuditDoc> {
  const at = { ...(since !== undefined && { $gte: since }), ...(until !== undefined && { $lte: until }) };
  return {
    ...(action !== undefined && { action }),
    ...(actorId !== undefined && { actorId }),
    ...(targetId !== undefined && { targetId }),
    ...(Object.keys(at).length > 0 && { at }),
    ...(before !== undefined && { id: { $lt: before } }),
  };
}

function toAuditEvent(doc: AuditDoc): AuditEvent {
  const { id, at, action, actorType, actorId, apiKeyId, targetType, targetId, ip, details } = doc;
  return {
    id,
    at,
    action,
    // apiKeyId is absent, not undefined or null, when no key was used.
    actor: { type: actorType, id: actorId, ...(apiKeyId !== null && { apiKeyId }) },
    target: targetType !== null && targetId !== null ? { type: targetType, id: targetId } : null,
    ip,
    details: JSON.parse(details) as Record<string, unknown>,
  };
}

function toSigningKey(doc: SigningKeyDoc): SigningKeyRecord {
  const { kid, alg, publicJwk, privateJwkCiphertext, createdAt, activatesAt, retiresAt } = doc;
  return { kid, alg, publicJwk: JSON.parse(publicJwk) as Record<string, unknown>, privateJwkCiphertext, createdAt, activatesAt, retiresAt };
}
