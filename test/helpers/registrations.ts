// What a REGISTER hands the location service, for the location tests (memory and SQL).
import type { ContactUpdate, RequestOrigin } from "../../src/sip/registrar/location.js";

/** A REGISTER from 192.0.2.1:5060 over UDP with this Call-ID and CSeq. */
export const origin = (callId: string, cseq: number): RequestOrigin => ({
  receivedIp: "192.0.2.1",
  receivedPort: 5060,
  transport: "UDP",
  userAgent: "test",
  callId,
  cseq,
});

/** Contact number n of extension 100, for an hour. */
export const contact = (n: number): ContactUpdate => ({
  contact: `sip:100@192.0.2.1:${5000 + n}`,
  expires: 3600,
  instanceId: "",
});
