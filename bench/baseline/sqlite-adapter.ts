/**
 * The least an oidc-provider adapter on a durable store can be, for the "library on
 * SQLite" baseline: one better-sqlite3 table in WAL mode with every commit synced
 * (`synchronous=FULL`, as Gatehouse's driver opens it), JSON payloads, prepared
 * statements, one autocommit per write, nothing else. Rows against it separate what
 * keeping state in a database costs the library itself from what Gatehouse's layers
 * add on top. Written for the bench only; Gatehouse's own driver is adapters/sqlite.
 */
import { Database } from '../../adapters/sqlite/driver.js';
import type { Adapter, AdapterPayload } from 'oidc-provider';

export function sqliteAdapterClass(file: string): new (model: string) => Adapter {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS oidc (
    model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
    grant_id TEXT, uid TEXT, user_code TEXT, expires_at INTEGER, consumed_at INTEGER,
    PRIMARY KEY (model, id));
    CREATE INDEX IF NOT EXISTS oidc_grant ON oidc (model, grant_id);
    CREATE INDEX IF NOT EXISTS oidc_uid ON oidc (model, uid);
    CREATE INDEX IF NOT EXISTS oidc_user_code ON oidc (model, user_code);`);
  const upsert = db.prepare(`INSERT INTO oidc (model, id, payload, grant_id, uid, user_code, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
      user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL`);
  const live = 'AND (expires_at IS NULL OR expires_at > ?)';
  const byId = db.prepare(`SELECT payload, consumed_at FROM oidc WHERE model = ? AND id = ? ${live}`);
  const byUid = db.prepare(`SELECT payload, consumed_at FROM oidc WHERE model = ? AND uid = ? ${live}`);
  const byUserCode = db.prepare(`SELECT payload, consumed_at FROM oidc WHERE model = ? AND user_code = ? ${live}`);
  const consume = db.prepare('UPDATE oidc SET consumed_at = ? WHERE model = ? AND id = ?');
  const destroy = db.prepare('DELETE FROM oidc WHERE model = ? AND id = ?');
  const revokeGrant = db.prepare('DELETE FROM oidc WHERE model = ? AND grant_id = ?');

  const toPayload = (row: unknown): AdapterPayload | undefined => {
    if (!row) return undefined;
    const { payload, consumed_at } = row as { payload: string; consumed_at: number | null };
    const parsed = JSON.parse(payload) as AdapterPayload;
    return consumed_at === null ? parsed : { ...parsed, consumed: consumed_at };
  };
  const now = () => Math.floor(Date.now() / 1000);

  return class SqliteAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      upsert.run(this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresIn ? now() + expiresIn : null);
    }
    async find(id: string) {
      return toPayload(byId.get(this.model, id, now()));
    }
    async findByUid(uid: string) {
      return toPayload(byUid.get(this.model, uid, now()));
    }
    async findByUserCode(userCode: string) {
      return toPayload(byUserCode.get(this.model, userCode, now()));
    }
    async consume(id: string) {
      consume.run(now(), this.model, id);
    }
    async destroy(id: string) {
      destroy.run(this.model, id);
    }
    async revokeByGrantId(grantId: string) {
      revokeGrant.run(this.model, grantId);
    }
  };
}
