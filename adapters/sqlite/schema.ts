import type { Database } from './driver.js';

/**
 * The embedded store's schema as numbered migrations; `PRAGMA user_version` records how
 * many have run, so each applies once, in order, on old and new databases alike.
 * Never edit a migration that has shipped: add the next one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS oidc (
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    grant_id TEXT,
    uid TEXT,
    user_code TEXT,
    expires_at INTEGER,
    consumed_at INTEGER,
    PRIMARY KEY (model, id)
  );
  CREATE INDEX IF NOT EXISTS oidc_grant ON oidc (model, grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS oidc_uid ON oidc (model, uid) WHERE uid IS NOT NULL;
  CREATE INDEX IF NOT EXISTS oidc_user_code ON oidc (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX IF NOT EXISTS oidc_expires ON oidc (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    password_hash TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,
    secret_ciphertext TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_jwk_ciphertext TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at INTEGER
  );
  `,
  `
  ALTER TABLE oidc ADD COLUMN account_id TEXT;
  UPDATE oidc SET account_id = json_extract(payload, '$.accountId') WHERE json_type(payload, '$.accountId') = 'text';
  CREATE INDEX oidc_account ON oidc (account_id) WHERE account_id IS NOT NULL;

  CREATE TABLE action_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX action_tokens_user ON action_tokens (user_id, purpose);
  CREATE INDEX action_tokens_expires ON action_tokens (expires_at);
  `,
  `
  ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'system';
  `,
  `
  CREATE TABLE avatars (
    user_id TEXT PRIMARY KEY,
    image BLOB NOT NULL,
    content_type TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE attempts (
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX attempts_key ON attempts (key, at);
  CREATE INDEX attempts_expires ON attempts (expires_at);
  `,
  `
  CREATE TABLE totp (
    user_id TEXT PRIMARY KEY,
    secret_ciphertext TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE totp_steps (
    user_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, step)
  );
  CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
  );
  `,
  `
  CREATE TABLE identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT,
    name TEXT,
    picture TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
  );
  CREATE INDEX identities_user ON identities (user_id);
  `,
  `
  ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer';
  ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
  UPDATE users SET role = 'admin' WHERE is_admin = 1;
  ALTER TABLE users DROP COLUMN is_admin;

  CREATE TABLE permissions (
    user_id TEXT NOT NULL,
    tool_id TEXT NOT NULL,
    level TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, tool_id)
  );
  CREATE INDEX permissions_tool ON permissions (tool_id, user_id);

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    tool_id TEXT,
    read_only INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

  CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_api_key_id TEXT,
    target_type TEXT,
    target_id TEXT,
    ip TEXT,
    details TEXT NOT NULL
  );
  CREATE INDEX audit_events_at ON audit_events (at);
  CREATE INDEX audit_events_action ON audit_events (action, id);
  CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
  CREATE INDEX audit_events_target ON audit_events (target_id, id);
  `,
  `
  ALTER TABLE attempts ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;
  `,
];

const schemaVersion = (db: Database) => db.pragma('user_version', { simple: true }) as number;

/**
 * Brings the schema up to date in one IMMEDIATE transaction: it takes the write lock
 * before reading the version again, so processes opening a fresh database at once (the
 * CLI beside the server, cluster workers) migrate one after the other, and the later ones
 * find nothing left to do instead of applying the same step again. An up-to-date
 * database, every start but the first, is seen without taking the lock.
 */
export function migrate(db: Database): void {
  if (schemaVersion(db) >= MIGRATIONS.length) return;
  db.transaction(() => {
    const applied = schemaVersion(db);
    if (applied >= MIGRATIONS.length) return;
    for (let version = applied; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
