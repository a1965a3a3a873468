// Glue between the store and the registrar's CredentialSource port (composition level: the SIP
// core never sees SQL, the store never sees SIP).

import type { CredentialSource } from "../sip/auth/digest.js";
import type { CallTargetSource } from "../sip/proxy/targets.js";
import type { Stores } from "../store/ports.js";

const MAX_CACHED_DOMAINS = 100_000;

export function storeCredentials(stores: Stores, registrarDomain: string): CredentialSource {
  // A domain's name and customer never change once created: cache the positive answers.
  const customerOfDomain = new Map<string, string>();
  const suffix = `.${registrarDomain}`;
  return {
    async lookup(realm, username) {
      if (!realm.endsWith(suffix)) return undefined;
      let customerId = customerOfDomain.get(realm);
      if (customerId === undefined) {
        const domain = await stores.domains.getByName(realm);
        if (!domain || domain.tm_delete !== null) return undefined;
        customerId = domain.customer_id;
        if (customerOfDomain.size < MAX_CACHED_DOMAINS) customerOfDomain.set(realm, customerId);
      }
      const ext = await stores.extensions.getLiveByName(customerId, username);
      if (!ext) return undefined;
      return { extensionId: ext.id, customerId, ha1Md5: ext.ha1_md5, ha1Sha256: ext.ha1_sha256 };
    },
  };
}

/** The proxy's CallTargetSource over the same store. */
export function storeCallTargets(stores: Stores, registrarDomain: string): CallTargetSource {
  const creds = storeCredentials(stores, registrarDomain);
  return {
    async byAddress(domain, user) {
      const c = await creds.lookup(domain, user);
      return c && { extensionId: c.extensionId, customerId: c.customerId, domain };
    },
    async byDirectHash(hash) {
      const ext = await stores.extensions.getLiveByDirectHash(hash);
      return ext && { extensionId: ext.id, customerId: ext.customer_id, domain: ext.domain_name };
    },
  };
}
