import { seedClientsFromFile } from '../access/clients.js';
import { ensureAccountClient } from '../accounts/account-client.js';
import { createUser } from '../accounts/users.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ensureSigningKeys } from '../oidc/signing-keys.js';
import type { Secrets } from '../security/secrets.js';
import type { Store } from '../store/port.js';

/**
 * What the store must hold before anyone is served: signing keys, the account console's
 * client, the clients of CLIENTS_FILE and the first admin. Each step is idempotent.
 */
export async function prepareStore(store: Store, secrets: Secrets, config: Config, logger: Logger): Promise<void> {
  await ensureSigningKeys(store, secrets);
  await ensureAccountClient(store, secrets, config.issuer);
  if (config.clientsFile) {
    const ids = await seedClientsFromFile(store, secrets, config.clientsFile);
    logger.info('clients seeded', { file: config.clientsFile, clients: ids });
  }
  if (config.admin && (await store.users.count()) === 0) {
    const admin = await createUser(store, { ...config.admin, role: 'admin' });
    logger.info('first admin created', { email: admin.email });
  }
}
