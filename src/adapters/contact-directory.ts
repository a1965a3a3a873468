// The location service seen through the domain's ContactDirectory port (for the REST API).
import type { Contact } from "../contract/contact.js";
import type { ContactDirectory } from "../domain/contacts.js";
import type { Binding, LocationService } from "../sip/registrar/location.js";
import { type Clock, formatMicros } from "../util/time.js";

export function contactView(b: Binding, now: number): Contact {
  return {
    uri: b.contact,
    source: b.receivedIp.includes(":")
      ? `[${b.receivedIp}]:${b.receivedPort}`
      : `${b.receivedIp}:${b.receivedPort}`,
    transport: b.transport,
    user_agent: b.userAgent,
    expires: Math.max(0, Math.round((b.expireAt - now) / 1_000_000)),
    tm_expire: formatMicros(b.expireAt),
    call_id: b.callId,
    cseq: b.cseq,
    instance_id: b.instanceId,
    tm_create: formatMicros(b.createdAt),
    tm_update: formatMicros(b.updatedAt),
  };
}

export function locationDirectory(location: LocationService, clock: Clock): ContactDirectory {
  return {
    list(extensionId) {
      const now = clock();
      return location.lookup(extensionId).map((b) => contactView(b, now));
    },
    removeAll(extensionId) {
      const now = clock();
      const removed = location.lookup(extensionId).map((b) => contactView(b, now));
      location.removeAll(extensionId);
      return removed;
    },
  };
}
