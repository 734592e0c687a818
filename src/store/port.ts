/**
 * The storage port: everything Gatehouse persists goes through these interfaces, and
 * each driver in `adapters/` implements them. Domain code never imports a driver.
 *
 * Rules every driver follows (checked by the contract suite in test/store/):
 * - no multi-document transactions: consume-once is a single atomic operation (a
 *   conditional UPDATE on SQLite; on MongoDB the insert of a marker under a unique index,
 *   because FerretDB applies a conditional update as read-then-write, so several can win);
 * - expiry is enforced on read; {@link Store.sweepExpired} deletes what has expired;
 * - timestamps are epoch milliseconds.
 */

/** A record in oidc-provider's adapter format; the library owns its shape. */
export type OidcPayload = Record<string, unknown> & {
  uid?: string;
  userCode?: string;
  grantId?: string;
  consumed?: number;
};

export interface OidcRecords {
  upsert(model: string, id: string, payload: OidcPayload, expiresInSeconds: number | undefined): Promise<void>;
  find(model: string, id: string): Promise<OidcPayload | undefined>;
  findByUid(model: string, uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(model: string, userCode: string): Promise<OidcPayload | undefined>;
  /**
   * Marks a record consumed if, and only if, it is not consumed yet — one atomic
   * conditional update. Returns false when it was already consumed (or is gone), so
   * of N parallel calls exactly one returns true.
   */
  consume(model: string, id: string): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(model: string, grantId: string): Promise<void>;
  /**
   * Deletes every record of the account (sessions, grants, codes, tokens) in every model,
   * except the session whose id is `keepSessionId`: "sign out everywhere else".
   */
  revokeByAccount(accountId: string, keepSessionId?: string): Promise<void>;
  /** The account's unexpired records of one model (e.g. its sessions), with their ids. */
  listByAccount(model: string, accountId: string): Promise<Array<{ id: string; payload: OidcPayload }>>;
}

/** How the hosted pages look for a person; `system` follows the browser. */
export type Theme = 'light' | 'dark' | 'system';

/** An admin manages Gatehouse; a viewer only uses the tools they are given. */
export type Role = 'admin' | 'viewer';

/** A disabled user cannot sign in, and their tokens and API keys stop working. */
export type UserStatus = 'active' | 'disabled';

export interface UserRecord {
  id: string;
  /** Stored lower-cased; uniqueness is case-insensitive. */
  email: string;
  emailVerified: boolean;
  name: string | null;
  passwordHash: string | null;
  role: Role;
  status: UserStatus;
  theme: Theme;
  createdAt: number;
  updatedAt: number;
}

export type NewUser = Omit<UserRecord, 'createdAt' | 'updatedAt' | 'theme' | 'status'> & { theme?: Theme; status?: UserStatus };

/** The fields an update may change; the password has its own methods. */
export type UserChanges = Partial<Pick<UserRecord, 'email' | 'emailVerified' | 'name' | 'role' | 'status' | 'theme'>>;

export interface UserQuery {
  /** Part of the email, matched case-insensitively. */
  email?: string;
  role?: Role;
  status?: UserStatus;
  /** Users after this email (the last one of the previous page), in email order. */
  after?: string;
  limit: number;
}

export interface UserRepository {
  /** @throws AlreadyExistsError when the email is taken. */
  create(user: NewUser): Promise<UserRecord>;
  findById(id: string): Promise<UserRecord | undefined>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  count(): Promise<number>;
  /** @throws NotFoundError */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  /**
   * Replaces the hash only if it is still `currentHash`, returning whether it did: a
   * login's rehash must not write back an old password that a reset just replaced.
   */
  upgradePasswordHash(id: string, currentHash: string, newHash: string): Promise<boolean>;
  /** @throws NotFoundError */
  setEmailVerified(id: string): Promise<void>;
  /**
   * Changes the fields given (an email is lower-cased); @throws NotFoundError, or
   * AlreadyExistsError when the new email belongs to another user.
   */
  update(id: string, changes: UserChanges): Promise<void>;
  /** One page of users in email order, filtered. */
  list(query: UserQuery): Promise<UserRecord[]>;
  /** Deletes the user; returns false when there was none. The caller removes what hangs off it. */
  delete(id: string): Promise<boolean>;
}

export type ActionPurpose = 'verify-email' | 'reset-password' | 'magic-link' | 'second-factor' | 'upstream-login';

/** A single-use token mailed to a person (verification, reset, magic link). */
export interface ActionTokenRecord {
  /** SHA-256 of the token: the token itself exists only in the mail. */
  tokenHash: string;
  purpose: ActionPurpose;
  userId: string;
  /** Purpose-specific facts, e.g. the email being verified or a browser binding. */
  data: Record<string, string>;
  createdAt: number;
  expiresAt: number;
}

export interface ActionTokenRepository {
  /** Stores the token after deleting the user's older tokens of the same purpose: a newer request voids older ones. */
  issue(token: ActionTokenRecord): Promise<void>;
  /** The unexpired token, without using it up (a GET shows a page; only a POST redeems). */
  find(tokenHash: string, purpose: ActionPurpose): Promise<ActionTokenRecord | undefined>;
  /**
   * Deletes and returns the unexpired token in one atomic delete, so of any number of
   * parallel redemptions exactly one gets it.
   */
  redeem(tokenHash: string, purpose: ActionPurpose): Promise<ActionTokenRecord | undefined>;
  deleteForUser(userId: string): Promise<void>;
}

export interface ClientRecord {
  clientId: string;
  /** oidc-provider client metadata, without the secret. */
  metadata: Record<string, unknown>;
  /** The client secret, encrypted with a key derived from GATEHOUSE_SECRET. */
  secretCiphertext: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ClientRepository {
  /** Creates or replaces the client; `createdAt` of an existing client is kept. */
  upsert(client: Omit<ClientRecord, 'createdAt' | 'updatedAt'>): Promise<ClientRecord>;
  find(clientId: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /** Returns false when there was no such client. */
  delete(clientId: string): Promise<boolean>;
}

/** How much a person may do in one tool; each level includes the ones before it. */
export type PermissionLevel = 'read' | 'write' | 'admin';

export interface PermissionRecord {
  userId: string;
  /** The tool's client_id. */
  toolId: string;
  level: PermissionLevel;
  createdAt: number;
  updatedAt: number;
}

export interface PermissionRepository {
  /** Grants or changes the user's level in the tool (idempotent); `createdAt` of an existing grant is kept. */
  set(userId: string, toolId: string, level: PermissionLevel): Promise<PermissionRecord>;
  find(userId: string, toolId: string): Promise<PermissionRecord | undefined>;
  /** Ordered by tool id. */
  listForUser(userId: string): Promise<PermissionRecord[]>;
  /** Ordered by user id. */
  listForTool(toolId: string): Promise<PermissionRecord[]>;
  /** Returns false when the user had no permission there. */
  revoke(userId: string, toolId: string): Promise<boolean>;
  deleteForUser(userId: string): Promise<void>;
  deleteForTool(toolId: string): Promise<void>;
}

/** A personal API key. The key itself is shown once; only its keyed hash is kept. */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  /** Keyed hash (HMAC) of the whole key: the lookup key on every use. */
  keyHash: string;
  /** The key's first characters, to recognise it in a listing. */
  prefix: string;
  /** When set, the key only works for this tool. */
  toolId: string | null;
  /** When true, the key can read but not change anything. */
  readOnly: boolean;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ApiKeyRepository {
  /** @throws AlreadyExistsError when the id or hash exists. */
  create(key: ApiKeyRecord): Promise<void>;
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key of the user, revoked and expired ones included, oldest first. */
  listForUser(userId: string): Promise<ApiKeyRecord[]>;
  /** Sets `revokedAt` if the key is not revoked yet; false when it was, or is unknown. */
  revoke(id: string, at: number): Promise<boolean>;
  /** Records a use; callers throttle how often. */
  touch(id: string, at: number): Promise<void>;
  deleteForUser(userId: string): Promise<void>;
}

/** Who did something: a person (through a session, token or one of their keys), a machine client, an operator at the CLI, or nobody known. */
export interface AuditActor {
  type: 'user' | 'client' | 'cli' | 'anonymous';
  id: string | null;
  /** The API key used, when a key was the credential. */
  apiKeyId?: string;
}

export interface AuditEvent {
  /** Sortable by time: later events have greater ids. */
  id: string;
  at: number;
  /** e.g. `login.succeeded`, `api_key.revoked`, `permission.changed`. */
  action: string;
  actor: AuditActor;
  target: { type: string; id: string } | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  action?: string;
  actorId?: string;
  targetId?: string;
  since?: number;
  until?: number;
  /** Events older than this id (the last one of the previous page). */
  before?: string;
  limit: number;
}

export interface AuditRepository {
  append(event: AuditEvent): Promise<void>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** The private JWK as JSON, encrypted with a key derived from GATEHOUSE_SECRET. */
  privateJwkCiphertext: string;
  createdAt: number;
  /** When the key starts signing; until then it is only published. */
  activatesAt: number;
  /** When the key leaves JWKS; null while it is current. */
  retiresAt: number | null;
}

export interface SigningKeyRepository {
  /** Every key, oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** @throws AlreadyExistsError when the kid exists. */
  insert(key: SigningKeyRecord): Promise<void>;
  /** Sets `retiresAt` only where it is still null (first rotation wins). */
  retire(kid: string, retiresAt: number): Promise<void>;
  delete(kid: string): Promise<void>;
}

/** A person's uploaded picture, already resized and re-encoded (never the uploaded bytes). */
export interface AvatarRecord {
  image: Buffer;
  contentType: string;
  updatedAt: number;
}

export interface AvatarRepository {
  /** Creates or replaces the user's avatar. */
  put(userId: string, avatar: AvatarRecord): Promise<void>;
  get(userId: string): Promise<AvatarRecord | undefined>;
  /** The avatar's `updatedAt` without reading the image: enough to build its URL. */
  version(userId: string): Promise<number | undefined>;
  delete(userId: string): Promise<void>;
}

/**
 * Failed attempts (sign-ins, …) counted per key, e.g. `login:email:<address>` or
 * `login:ip:<address>`. Each record is inserted, never incremented, so counting needs no
 * atomic increment (which FerretDB cannot do) and every instance sees the same numbers.
 */
export interface AttemptRepository {
  /**
   * Records attempts under each key; they count until `expiresAt`. `weight` (default 1)
   * lets one record stand for a batch: the token endpoint's limiter writes a second's
   * worth of requests at once rather than one record per request.
   */
  record(keys: readonly string[], at: number, expiresAt: number, weight?: number): Promise<void>;
  /** How many unexpired attempts (the sum of their weights) the key has made since `since`. */
  count(key: string, since: number): Promise<number>;
  /** Forgets the key's attempts (after a successful sign-in or a password reset). */
  clear(key: string): Promise<void>;
}

/** A person's TOTP authenticator; pending until a first valid code confirms it. */
export interface TotpRecord {
  /** The RFC 6238 secret, encrypted with a key derived from GATEHOUSE_SECRET. */
  secretCiphertext: string;
  confirmed: boolean;
  createdAt: number;
}

export interface SecondFactorRepository {
  getTotp(userId: string): Promise<TotpRecord | undefined>;
  /** Creates or replaces the user's authenticator. */
  putTotp(userId: string, totp: TotpRecord): Promise<void>;
  /** Removes the authenticator, its used steps and the recovery codes. */
  deleteAll(userId: string): Promise<void>;
  /**
   * Claims a TOTP time step for the user: false when that step, or a later one, was
   * already used. The same step is refused atomically (a unique insert); `expiresAt`
   * lets the record go once the step can no longer be presented.
   */
  claimTotpStep(userId: string, step: number, expiresAt: number): Promise<boolean>;
  /** Replaces the user's recovery codes (keyed hashes): a new set voids the old one. */
  replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<void>;
  /** Uses one recovery code: true only for the one caller that deletes it. */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  countRecoveryCodes(userId: string): Promise<number>;
}

/** A person's account at an upstream identity provider, linked to a Gatehouse user. */
export interface IdentityRecord {
  /** The configured provider's id, e.g. `google`. */
  provider: string;
  /** The upstream's stable subject (`sub`), never its email. */
  subject: string;
  userId: string;
  email: string | null;
  name: string | null;
  picture: string | null;
  createdAt: number;
}

export interface IdentityRepository {
  find(provider: string, subject: string): Promise<IdentityRecord | undefined>;
  /** In the order they were linked (by provider id within the same millisecond): the first one's picture is the person's. */
  listForUser(userId: string): Promise<IdentityRecord[]>;
  /** @throws AlreadyExistsError when that upstream identity is linked already. */
  link(identity: IdentityRecord): Promise<void>;
  /** Removes one of the user's identities; false when the user has no such identity. */
  unlink(userId: string, provider: string, subject: string): Promise<boolean>;
  deleteForUser(userId: string): Promise<void>;
}

export interface Store {
  readonly driver: string;
  readonly oidc: OidcRecords;
  readonly users: UserRepository;
  readonly clients: ClientRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly actionTokens: ActionTokenRepository;
  readonly avatars: AvatarRepository;
  readonly attempts: AttemptRepository;
  readonly secondFactors: SecondFactorRepository;
  readonly identities: IdentityRepository;
  readonly permissions: PermissionRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly audit: AuditRepository;
  /** Resolves when the database answers; rejects otherwise. Backs /readyz. */
  ping(): Promise<void>;
  /** Deletes expired oidc records, action tokens, attempts and used TOTP steps; returns how many. */
  sweepExpired(now?: number): Promise<number>;
  close(): Promise<void>;
}

/** A driver: opens a store for a DATABASE_URL it understands. */
export type StoreFactory = (url: string) => Promise<Store>;

/**
 * The store's errors are recognised by a global brand rather than by class identity:
 * the drivers load lazily by dynamic import, and a test runner that loads the rest of
 * the code as CommonJS then holds a second copy of this module, whose classes would
 * otherwise fail `instanceof` for errors thrown by a driver.
 */
function brandedError(name: string) {
  const brand = Symbol.for(`gatehouse.${name}`);
  return class extends Error {
    override name = name;
    readonly [brand] = true;
    static override [Symbol.hasInstance](value: unknown): boolean {
      return typeof value === 'object' && value !== null && brand in value;
    }
  };
}

export class NotFoundError extends brandedError('NotFoundError') {}

export class AlreadyExistsError extends brandedError('AlreadyExistsError') {}

/** The database could not be reached; the HTTP layer answers 503 with Retry-After. */
export class StoreUnavailableError extends brandedError('StoreUnavailableError') {}
