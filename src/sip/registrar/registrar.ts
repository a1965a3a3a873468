// The registrar's decisions (RFC 3261 §10.3, CONTRACT §7), free of wire format: the stack reads a
// REGISTER into a RegisterInput and writes the RegisterOutcome back as a response.
import { type CredentialSource, digestAuthenticator } from "./authenticator.js";
import type { Binding, ContactUpdate, LocationService, RequestOrigin } from "./location.js";
import type { NonceService } from "./nonce.js";

export const DEFAULT_EXPIRES = 3600;
export const MAX_EXPIRES = 7200;
export const MIN_EXPIRES = 60;

export type { CredentialSource, SipCredential } from "./authenticator.js";

export interface RegisterContact {
  uri: string;
  /** the contact's own `expires` parameter, when present */
  expires: number | undefined;
  instanceId: string;
}

export interface RegisterInput {
  /** the AOR's user and host, from To (lower-cased host) */
  toUser: string;
  toHost: string;
  /** parameters of the Digest Authorization header (lower-case keys), when one was sent */
  authorization: Map<string, string> | undefined;
  /** the Expires header, when present */
  expires: number | undefined;
  /** "*" for `Contact: *`; [] for a query (no Contact) */
  contacts: RegisterContact[] | "*";
  origin: RequestOrigin;
}

export type RegisterOutcome =
  | { status: 401; realm: string; stale: boolean }
  | { status: 423 }
  | { status: 400 | 403; reason: string }
  | { status: 200; bindings: Binding[] };

export interface RegistrarDeps {
  credentials: CredentialSource;
  nonces: NonceService;
  location: LocationService;
}

export function registrar({ credentials, nonces, location }: RegistrarDeps) {
  const authenticator = digestAuthenticator(credentials, nonces);

  return {
    async register(input: RegisterInput): Promise<RegisterOutcome> {
      const realm = input.toHost;
      const auth = await authenticator.authenticate(input.authorization, realm, "REGISTER");
      // One challenge for every failure: unknown or deleted extension, another customer's
      // domain, a wrong password all look the same from outside.
      if (!auth.ok) return { status: 401, realm, stale: auth.stale };
      if (auth.digest.username !== input.toUser) {
        return { status: 403, reason: "Forbidden (the digest username must be the To user)" };
      }
      const { extensionId, customerId } = auth.cred;

      if (input.contacts === "*") {
        // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and no other Contact.
        if (input.expires !== 0) return { status: 400, reason: "Bad Request (Contact * needs Expires: 0)" };
        return { status: 200, bindings: location.removeAllFromRequest(extensionId, input.origin) };
      }
      if (input.contacts.length === 0) return { status: 200, bindings: location.lookup(extensionId) };

      const updates: ContactUpdate[] = [];
      for (const c of input.contacts) {
        let expires = c.expires ?? input.expires ?? DEFAULT_EXPIRES;
        if (expires !== 0 && expires < MIN_EXPIRES) return { status: 423 };
        expires = Math.min(expires, MAX_EXPIRES);
        updates.push({ contact: c.uri, expires, instanceId: c.instanceId });
      }
      return { status: 200, bindings: location.register(extensionId, customerId, updates, input.origin) };
    },
  };
}

export type Registrar = ReturnType<typeof registrar>;
