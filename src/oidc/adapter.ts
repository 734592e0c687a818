import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { findProviderClient } from '../access/clients.js';
import type { Secrets } from '../security/secrets.js';
import type { Store } from '../store/port.js';

/**
 * oidc-provider's adapter contract mapped onto the storage port. The library builds one
 * instance per model name. Clients are not oidc records: they come from the clients
 * repository, with the secret decrypted on the way out.
 */
export function createAdapterClass(store: Store, secrets: Secrets): new (model: string) => Adapter {
  return class StoreAdapter implements Adapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are registered through the CLI or CLIENTS_FILE');
      await store.oidc.upsert(this.model, id, payload, expiresIn);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return (await findProviderClient(store, secrets, id)) as AdapterPayload | undefined;
      return store.oidc.find(this.model, id) as Promise<AdapterPayload | undefined>;
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return store.oidc.findByUid(this.model, uid) as Promise<AdapterPayload | undefined>;
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return store.oidc.findByUserCode(this.model, userCode) as Promise<AdapterPayload | undefined>;
    }

    /**
     * The library checks `consumed` and then calls this; two parallel redemptions can
     * both pass that check, so the store's conditional update decides, and the loser
     * gets invalid_grant rather than a second set of tokens.
     */
    async consume(id: string): Promise<void> {
      if (!(await store.oidc.consume(this.model, id))) throw new errors.InvalidGrant('grant already consumed');
    }

    destroy(id: string): Promise<void> {
      return store.oidc.destroy(this.model, id);
    }

    revokeByGrantId(grantId: string): Promise<void> {
      return store.oidc.revokeByGrantId(this.model, grantId);
    }
  };
}
