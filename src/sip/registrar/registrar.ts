// The registrar's decisions (RFC 3261 §10.3, CONTRACT §7), free of wire format: register-uas.ts
// reads a REGISTER into a RegisterInput and writes the RegisterOutcome back as a response.
import type { DigestAuthenticator } from "../auth/digest.js";
import type { Binding, ContactUpdate, LocationService, RequestOrigin } from "./location.js";

export const DEFAULT_EXPIRES = 3600;
export const MAX_EXPIRES = 7200;
export const MIN_EXPIRES = 60;

export type { CredentialSource, SipCredential } from "../auth/digest.js";

export interface RegisterContact {
  uri: string;
  /** the contact's own `expires` parameter, when present */
  expires: number | undefined;
  instanceId: string;
  /** `reg-id` (RFC 5626 §4.2), when present */
  regId?: number | undefined;
  /** `q` (RFC 3261 §10.2.1.2), when present */
  q?: number | undefined;
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
  /** the option tags of Supported (lower-cased): `path`, `outbound` matter here */
  supported: ReadonlySet<string>;
  /** where it came from, with the Path it came through (RFC 3327) */
  origin: RequestOrigin;
}

export type RegisterOutcome =
  | { status: 401; realm: string; stale: boolean }
  | { status: 423 }
  | { status: 400 | 403; reason: string }
  | {
      status: 200;
      bindings: Binding[];
      /** RFC 3327 §5.3: the Path to echo, when the UA supports it */
      path: readonly string[];
      /** RFC 5626 §6: `Require: outbound` goes in the 200 */
      outbound: boolean;
    };

export interface RegistrarDeps {
  authenticator: DigestAuthenticator;
  location: LocationService;
}

export function registrar({ authenticator, location }: RegistrarDeps) {
  return {
    async register(input: RegisterInput): Promise<RegisterOutcome> {
      const realm = input.toHost;
      const auth = await authenticator.authenticate(
        input.authorization,
        realm,
        "REGISTER",
        input.origin.receivedIp,
      );
      // One challenge for every failure: unknown or deleted extension, another customer's
      // domain, a wrong password all look the same from outside.
      if (!auth.ok) return { status: 401, realm, stale: auth.stale };
      if (auth.digest.username !== input.toUser) {
        return { status: 403, reason: "Forbidden (the digest username must be the To user)" };
      }
      const { extensionId, customerId } = auth.cred;
      const ok = (bindings: Binding[]): RegisterOutcome => {
        // RFC 3327 §5.3: the Path goes back "if the UAC has indicated support" for it.
        const path = input.supported.has("path") ? (input.origin.path ?? []) : [];
        // RFC 5626 §6: a registration with a reg-id, from a UA supporting outbound, is answered with
        // Require: outbound (the flow is then kept for requests to it).
        const contacts = input.contacts === "*" ? [] : input.contacts;
        const outbound = input.supported.has("outbound") && contacts.some((c) => c.regId !== undefined);
        return { status: 200, bindings, path, outbound };
      };
      const lower = { status: 400, reason: "Bad Request (CSeq lower than the binding's)" } as const;

      if (input.contacts === "*") {
        // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and no other Contact.
        if (input.expires !== 0) return { status: 400, reason: "Bad Request (Contact * needs Expires: 0)" };
        if (location.cseqIsLower(extensionId, "*", input.origin)) return lower;
        return ok(location.removeAllFromRequest(extensionId, input.origin));
      }
      if (input.contacts.length === 0) return ok(location.lookup(extensionId));

      const updates: ContactUpdate[] = [];
      for (const c of input.contacts) {
        let expires = c.expires ?? input.expires ?? DEFAULT_EXPIRES;
        if (expires !== 0 && expires < MIN_EXPIRES) return { status: 423 };
        expires = Math.min(expires, MAX_EXPIRES);
        updates.push({ contact: c.uri, expires, instanceId: c.instanceId, regId: c.regId, q: c.q });
      }
      if (location.cseqIsLower(extensionId, updates, input.origin)) return lower;
      return ok(location.register(extensionId, customerId, updates, input.origin));
    },
  };
}

export type Registrar = ReturnType<typeof registrar>;
