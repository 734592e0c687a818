import {
  NotFoundError,
  type ActionPurpose,
  type ActionTokenRecord,
  type ClientRecord,
  type IdentityRecord,
  type OidcPayload,
  type SigningKeyRecord,
  type Store,
  type Role,
  type Theme,
  type UserRecord,
  type UserStatus,
} from '../../src/store/port.js';
import { sqliteApiKeys, sqliteAudit, sqlitePermissions } from './access.js';
import { openConnection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { toStoreError, unlessTaken } from './errors.js';
import { mapStoreErrors } from '../../src/store/wrap-store.js';
import { migrate } from './schema.js';

/**
 * The embedded driver: one SQLite file, WAL mode so several processes can share it.
 * better-sqlite3 is synchronous; every statement here is a single short write, and
 * consume-once is a single conditional UPDATE, atomic by construction. Every write goes
 * through GroupCommit: writes issued together share one synced commit, each atomic alone.
 */
export async function openSqliteStore(url: string): Promise<Store> {
  const db = await openConnection(url.replace(/^sqlite:/, ''));
  migrate(db);

  const now = () => Date.now();
  const s = {
    oidcUpsert: db.prepare(`INSERT INTO oidc (model, id, payload, grant_id, uid, user_code, account_id, expires_at, consumed_at)
      VALUES (@model, @id, @payload, @grantId, @uid, @userCode, @accountId, @expiresAt, @consumedAt)
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
        uid = excluded.uid, user_code = excluded.user_code, account_id = excluded.account_id, expires_at = excluded.expires_at,
        consumed_at = COALESCE(oidc.consumed_at, excluded.consumed_at)`),
    oidcFind: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)'),
    oidcFindByUid: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND uid = ? AND (expires_at IS NULL OR expires_at > ?)'),
    oidcFindByUserCode: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND user_code = ? AND (expires_at IS NULL OR expires_at > ?)'),
    oidcConsume: db.prepare('UPDATE oidc SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL'),
    oidcDestroy: db.prepare('DELETE FROM oidc WHERE model = ? AND id = ?'),
    oidcRevokeGrant: db.prepare('DELETE FROM oidc WHERE model = ? AND grant_id = ?'),
    oidcListAccount: db.prepare('SELECT id, payload, consumed_at FROM oidc WHERE model = ? AND account_id = ? AND (expires_at IS NULL OR expires_at > ?)'),
    oidcRevokeAccount: db.prepare("DELETE FROM oidc WHERE account_id = ? AND NOT (model = 'Session' AND id IS ?)"),
    oidcSweep: db.prepare('DELETE FROM oidc WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    tokenVoidOlder: db.prepare('DELETE FROM action_tokens WHERE user_id = ? AND purpose = ?'),
    tokenInsert: db.prepare(`INSERT INTO action_tokens (token_hash, purpose, user_id, data, created_at, expires_at)
      VALUES (@tokenHash, @purpose, @userId, @data, @createdAt, @expiresAt)`),
    tokenFind: db.prepare('SELECT * FROM action_tokens WHERE token_hash = ? AND purpose = ? AND expires_at > ?'),
    tokenRedeem: db.prepare('DELETE FROM action_tokens WHERE token_hash = ? AND purpose = ? AND expires_at > ? RETURNING *'),
    tokenDeleteForUser: db.prepare('DELETE FROM action_tokens WHERE user_id = ?'),
    tokenSweep: db.prepare('DELETE FROM action_tokens WHERE expires_at <= ?'),
    avatarPut: db.prepare(`INSERT INTO avatars (user_id, image, content_type, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (user_id) DO UPDATE SET image = excluded.image, content_type = excluded.content_type, updated_at = excluded.updated_at`),
    avatarGet: db.prepare('SELECT image, content_type, updated_at FROM avatars WHERE user_id = ?'),
    avatarVersion: db.prepare('SELECT updated_at FROM avatars WHERE user_id = ?'),
    avatarDelete: db.prepare('DELETE FROM avatars WHERE user_id = ?'),
    attemptInsert: db.prepare('INSERT INTO attempts (key, at, expires_at, weight) VALUES (?, ?, ?, ?)'),
    attemptCount: db.prepare('SELECT COALESCE(SUM(weight), 0) AS n FROM attempts WHERE key = ? AND at >= ? AND expires_at > ?'),
    attemptClear: db.prepare('DELETE FROM attempts WHERE key = ?'),
    attemptSweep: db.prepare('DELETE FROM attempts WHERE expires_at <= ?'),
    totpGet: db.prepare('SELECT secret_ciphertext, confirmed, created_at FROM totp WHERE user_id = ?'),
    totpPut: db.prepare(`INSERT INTO totp (user_id, secret_ciphertext, confirmed, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext, confirmed = excluded.confirmed, created_at = excluded.created_at`),
    totpDelete: db.prepare('DELETE FROM totp WHERE user_id = ?'),
    stepsDelete: db.prepare('DELETE FROM totp_steps WHERE user_id = ?'),
    stepLater: db.prepare('SELECT 1 FROM totp_steps WHERE user_id = ? AND step > ?'),
    stepInsert: db.prepare('INSERT OR IGNORE INTO totp_steps (user_id, step, expires_at) VALUES (?, ?, ?)'),
    stepSweep: db.prepare('DELETE FROM totp_steps WHERE expires_at <= ?'),
    codesDelete: db.prepare('DELETE FROM recovery_codes WHERE user_id = ?'),
    codeInsert: db.prepare('INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)'),
    codeUse: db.prepare('DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?'),
    codeCount: db.prepare('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?'),
    identityFind: db.prepare('SELECT * FROM identities WHERE provider = ? AND subject = ?'),
    // Sorted in JavaScript, not by ORDER BY: see byLinkOrder.
    identityList: db.prepare('SELECT * FROM identities WHERE user_id = ?'),
    identityInsert: db.prepare(`INSERT INTO identities (provider, subject, user_id, email, name, picture, created_at)
      VALUES (@provider, @subject, @userId, @email, @name, @picture, @createdAt)`),
    identityDelete: db.prepare('DELETE FROM identities WHERE user_id = ? AND provider = ? AND subject = ?'),
    identityDeleteUser: db.prepare('DELETE FROM identities WHERE user_id = ?'),
    userInsert: db.prepare(`INSERT INTO users (id, email, email_verified, name, password_hash, role, status, theme, created_at, updated_at)
      VALUES (@id, @email, @emailVerified, @name, @passwordHash, @role, @status, @theme, @createdAt, @updatedAt)`),
    // Each field changes only when given (a null name is a change, hence the set flag).
    userUpdate: db.prepare(`UPDATE users SET name = CASE WHEN @setName THEN @name ELSE name END,
      email = COALESCE(@email, email), email_verified = COALESCE(@emailVerified, email_verified), role = COALESCE(@role, role),
      status = COALESCE(@status, status), theme = COALESCE(@theme, theme), updated_at = @now WHERE id = @id`),
    userList: db.prepare(`SELECT * FROM users WHERE (@email IS NULL OR instr(email, @email) > 0) AND (@role IS NULL OR role = @role)
      AND (@status IS NULL OR status = @status) AND (@after IS NULL OR email > @after) ORDER BY email LIMIT @limit`),
    userDelete: db.prepare('DELETE FROM users WHERE id = ?'),
    userById: db.prepare('SELECT * FROM users WHERE id = ?'),
    userByEmail: db.prepare('SELECT * FROM users WHERE email = ?'),
    userCount: db.prepare('SELECT COUNT(*) AS n FROM users'),
    userSetPassword: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?'),
    userUpgradePassword: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?'),
    userSetVerified: db.prepare('UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ?'),
    clientUpsert: db.prepare(`INSERT INTO clients (client_id, metadata, secret_ciphertext, created_at, updated_at)
      VALUES (@clientId, @metadata, @secretCiphertext, @now, @now)
      ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata,
        secret_ciphertext = excluded.secret_ciphertext, updated_at = excluded.updated_at`),
    clientFind: db.prepare('SELECT * FROM clients WHERE client_id = ?'),
    clientList: db.prepare('SELECT * FROM clients ORDER BY created_at, client_id'),
    clientDelete: db.prepare('DELETE FROM clients WHERE client_id = ?'),
    keyList: db.prepare('SELECT * FROM signing_keys ORDER BY created_at, kid'),
    keyInsert: db.prepare(`INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_ciphertext, created_at, activates_at, retires_at)
      VALUES (@kid, @alg, @publicJwk, @privateJwkCiphertext, @createdAt, @activatesAt, @retiresAt)`),
    keyRetire: db.prepare('UPDATE signing_keys SET retires_at = ? WHERE kid = ? AND retires_at IS NULL'),
    keyDelete: db.prepare('DELETE FROM signing_keys WHERE kid = ?'),
  };

  type OidcRow = { payload: string; consumed_at: number | null };
  const commits = new GroupCommit(db);
  const toPayload = (row: unknown): OidcPayload | undefined => {
    if (!row) return undefined;
    const { payload, consumed_at } = row as OidcRow;
    const parsed = JSON.parse(payload) as OidcPayload;
    // oidc-provider reads `consumed` as epoch seconds.
    return consumed_at === null ? parsed : { ...parsed, consumed: Math.floor(consumed_at / 1000) };
  };

  const store: Store = {
    driver: 'sqlite',
    oidc: {
      async upsert(model, id, payload, expiresIn) {
        const row = {
          model,
          id,
          payload: JSON.stringify(payload),
          grantId: payload.grantId ?? null,
          uid: payload.uid ?? null,
          userCode: payload.userCode ?? null,
          accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
          expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
          consumedAt: typeof payload.consumed === 'number' ? payload.consumed * 1000 : null,
        };
        await commits.write(() => s.oidcUpsert.run(row));
      },
      find: async (model, id) => toPayload(s.oidcFind.get(model, id, now())),
      findByUid: async (model, uid) => toPayload(s.oidcFindByUid.get(model, uid, now())),
      findByUserCode: async (model, code) => toPayload(s.oidcFindByUserCode.get(model, code, now())),
      consume(model, id) {
        const at = now();
        return commits.write(() => s.oidcConsume.run(at, model, id).changes === 1);
      },
      async destroy(model, id) {
        await commits.write(() => s.oidcDestroy.run(model, id));
      },
      async revokeByGrantId(model, grantId) {
        await commits.write(() => s.oidcRevokeGrant.run(model, grantId));
      },
      async revokeByAccount(accountId, keepSessionId) {
        await commits.write(() => s.oidcRevokeAccount.run(accountId, keepSessionId ?? null));
      },
      listByAccount: async (model, accountId) =>
        s.oidcListAccount.all(model, accountId, now()).map((row) => ({ id: (row as { id: string }).id, payload: toPayload(row)! })),
    },
    users: {
      async create(user) {
        const record: UserRecord = {
          ...user,
          email: user.email.toLowerCase(),
          theme: user.theme ?? 'system',
          status: user.status ?? 'active',
          createdAt: now(),
          updatedAt: now(),
        };
        await commits.write(() => unlessTaken(() => s.userInsert.run({ ...record, emailVerified: +record.emailVerified }), `user ${record.email} exists`));
        return record;
      },
      findById: async (id) => toUser(s.userById.get(id)),
      findByEmail: async (email) => toUser(s.userByEmail.get(email.toLowerCase())),
      count: async () => (s.userCount.get() as { n: number }).n,
      async setPasswordHash(id, hash) {
        if ((await commits.write(() => s.userSetPassword.run(hash, now(), id).changes)) !== 1) throw new NotFoundError(`user ${id}`);
      },
      upgradePasswordHash: (id, current, next) => commits.write(() => s.userUpgradePassword.run(next, now(), id, current).changes === 1),
      async setEmailVerified(id) {
        if ((await commits.write(() => s.userSetVerified.run(now(), id).changes)) !== 1) throw new NotFoundError(`user ${id}`);
      },
      async update(id, changes) {
        const params = {
          id,
          setName: +('name' in changes),
          name: changes.name ?? null,
          email: changes.email?.toLowerCase() ?? null,
          emailVerified: changes.emailVerified === undefined ? null : +changes.emailVerified,
          role: changes.role ?? null,
          status: changes.status ?? null,
          theme: changes.theme ?? null,
          now: now(),
        };
        const changed = await commits.write(() => unlessTaken(() => s.userUpdate.run(params).changes, `user ${params.email} exists`));
        if (changed !== 1) throw new NotFoundError(`user ${id}`);
      },
      list: async ({ email, role, status, after, limit }) =>
        s.userList
          .all({ email: email?.toLowerCase() ?? null, role: role ?? null, status: status ?? null, after: after ?? null, limit })
          .map((row) => toUser(row)!),
      delete: (id) => commits.write(() => s.userDelete.run(id).changes === 1),
    },
    clients: {
      upsert: (client) =>
        commits.write(() => {
          s.clientUpsert.run({ ...client, metadata: JSON.stringify(client.metadata), now: now() });
          return toClient(s.clientFind.get(client.clientId))!;
        }),
      find: async (id) => toClient(s.clientFind.get(id)),
      list: async () => s.clientList.all().map((r) => toClient(r)!),
      delete: (id) => commits.write(() => s.clientDelete.run(id).changes === 1),
    },
    signingKeys: {
      list: async () => s.keyList.all().map(toSigningKey),
      async insert(key) {
        await commits.write(() => unlessTaken(() => s.keyInsert.run({ ...key, publicJwk: JSON.stringify(key.publicJwk) }), `signing key ${key.kid} exists`));
      },
      async retire(kid, at) {
        await commits.write(() => s.keyRetire.run(at, kid));
      },
      async delete(kid) {
        await commits.write(() => s.keyDelete.run(kid));
      },
    },
    actionTokens: {
      async issue(token) {
        await commits.write(() => {
          s.tokenVoidOlder.run(token.userId, token.purpose);
          s.tokenInsert.run({ ...token, data: JSON.stringify(token.data) });
        });
      },
      find: async (hash, purpose) => toActionToken(s.tokenFind.get(hash, purpose, now())),
      redeem: (hash, purpose) => commits.write(() => toActionToken(s.tokenRedeem.get(hash, purpose, now()))),
      async deleteForUser(userId) {
        await commits.write(() => s.tokenDeleteForUser.run(userId));
      },
    },
    avatars: {
      async put(userId, { image, contentType, updatedAt }) {
        await commits.write(() => s.avatarPut.run(userId, image, contentType, updatedAt));
      },
      async get(userId) {
        const row = s.avatarGet.get(userId) as { image: Buffer; content_type: string; updated_at: number } | undefined;
        return row && { image: row.image, contentType: row.content_type, updatedAt: row.updated_at };
      },
      version: async (userId) => (s.avatarVersion.get(userId) as { updated_at: number } | undefined)?.updated_at,
      async delete(userId) {
        await commits.write(() => s.avatarDelete.run(userId));
      },
    },
    attempts: {
      record: (keys, at, expiresAt, weight = 1) =>
        commits.write(() => {
          for (const key of keys) s.attemptInsert.run(key, at, expiresAt, weight);
        }),
      count: async (key, since) => (s.attemptCount.get(key, since, now()) as { n: number }).n,
      async clear(key) {
        await commits.write(() => s.attemptClear.run(key));
      },
    },
    secondFactors: {
      async getTotp(userId) {
        const row = s.totpGet.get(userId) as { secret_ciphertext: string; confirmed: number; created_at: number } | undefined;
        return row && { secretCiphertext: row.secret_ciphertext, confirmed: row.confirmed === 1, createdAt: row.created_at };
      },
      async putTotp(userId, totp) {
        await commits.write(() => s.totpPut.run(userId, totp.secretCiphertext, +totp.confirmed, totp.createdAt));
      },
      deleteAll: (userId) =>
        commits.write(() => {
          s.totpDelete.run(userId);
          s.stepsDelete.run(userId);
          s.codesDelete.run(userId);
        }),
      claimTotpStep: (userId, step, expiresAt) =>
        commits.write(() => !s.stepLater.get(userId, step) && s.stepInsert.run(userId, step, expiresAt).changes === 1),
      replaceRecoveryCodes: (userId, hashes) =>
        commits.write(() => {
          s.codesDelete.run(userId);
          for (const hash of hashes) s.codeInsert.run(userId, hash);
        }),
      useRecoveryCode: (userId, hash) => commits.write(() => s.codeUse.run(userId, hash).changes === 1),
      countRecoveryCodes: async (userId) => (s.codeCount.get(userId) as { n: number }).n,
    },
    identities: {
      find: async (provider, subject) => toIdentity(s.identityFind.get(provider, subject)),
      listForUser: async (userId) => s.identityList.all(userId).map((row) => toIdentity(row)!).sort(byLinkOrder),
      async link(identity) {
        await commits.write(() => unlessTaken(() => s.identityInsert.run(identity), `identity ${identity.provider}:${identity.subject} is linked`));
      },
      unlink: (userId, provider, subject) => commits.write(() => s.identityDelete.run(userId, provider, subject).changes === 1),
      async deleteForUser(userId) {
        await commits.write(() => s.identityDeleteUser.run(userId));
      },
    },
    permissions: sqlitePermissions(db, commits),
    apiKeys: sqliteApiKeys(db, commits),
    audit: sqliteAudit(db, commits),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    sweepExpired: (at = now()) =>
      commits.write(() => s.oidcSweep.run(at).changes + s.tokenSweep.run(at).changes + s.attemptSweep.run(at).changes + s.stepSweep.run(at).changes),
    async close() {
      if (!db.open) return;
      commits.flush();
      db.close();
    },
  };
  return mapStoreErrors(store, toStoreError);
}

interface UserRow { id: string; email: string; email_verified: number; name: string | null; password_hash: string | null; role: Role; status: UserStatus; theme: Theme; created_at: number; updated_at: number }
interface ClientRow { client_id: string; metadata: string; secret_ciphertext: string | null; created_at: number; updated_at: number }
interface ActionTokenRow { token_hash: string; purpose: ActionPurpose; user_id: string; data: string; created_at: number; expires_at: number }
interface SigningKeyRow { kid: string; alg: string; public_jwk: string; private_jwk_ciphertext: string; created_at: number; activates_at: number; retires_at: number | null }

function toUser(row: unknown): UserRecord | undefined {
  if (!row) return undefined;
  const r = row as UserRow;
  return {
    id: r.id,
    email: r.email,
    emailVerified: r.email_verified === 1,
    name: r.name,
    passwordHash: r.password_hash,
    role: r.role,
    status: r.status,
    theme: r.theme,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toClient(row: unknown): ClientRecord | undefined {
  if (!row) return undefined;
  const r = row as ClientRow;
  return {
    clientId: r.client_id,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    secretCiphertext: r.secret_ciphertext,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toActionToken(row: unknown): ActionTokenRecord | undefined {
  if (!row) return undefined;
  const r = row as ActionTokenRow;
  return { tokenHash: r.token_hash, purpose: r.purpose, userId: r.user_id, data: JSON.parse(r.data) as Record<string, string>, createdAt: r.created_at, expiresAt: r.expires_at };
}

interface IdentityRow { provider: string; subject: string; user_id: string; email: string | null; name: string | null; picture: string | null; created_at: number }

function toIdentity(row: unknown): IdentityRecord | undefined {
  if (!row) return undefined;
  const r = row as IdentityRow;
  return { provider: r.provider, subject: r.subject, userId: r.user_id, email: r.email, name: r.name, picture: r.picture, createdAt: r.created_at };
}

/**
 * A person's linked accounts in the order they were linked. Every userinfo call and ID
 * token that may carry a picture lists them, so the sort is done here: SQLite 3.54
 * (better-sqlite3 13, Node 22 on) re-prepares a statement with ORDER BY and a `col = ?`
 * term on every execution, because better-sqlite3 clears the bindings after each one;
 * that cost ~36 µs a userinfo call on a loaded server.
 */
const byLinkOrder = (a: IdentityRecord, b: IdentityRecord) => a.createdAt - b.createdAt || (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0);

function toSigningKey(row: unknown): SigningKeyRecord {
  const r = row as SigningKeyRow;
  return {
    kid: r.kid,
    alg: r.alg,
    publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
    privateJwkCiphertext: r.private_jwk_ciphertext,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
  };
}
