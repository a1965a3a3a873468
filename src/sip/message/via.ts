// One Via value (RFC 3261 §20.42, §25.1), with RFC 3581's rport.
//   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport   (SLASH = SWS "/" SWS)
//   sent-by       = host [ COLON port ]
//   response-port = "rport" [EQUAL 1*DIGIT]                                 (RFC 3581 §3)
// A Via header line may hold several via-parms separated by commas: split them with
// SipHeaders.getAll("Via") first.
import { inTable, isDigits, isWsp, skipWsp, TOKEN } from "./grammar.js";
import { formatParams, type Params, parseParams } from "./name-addr.js";
import { readHostPort } from "./uri.js";

export interface Via {
  /** protocol-name "/" protocol-version, e.g. "SIP/2.0" (name upper-cased) */
  protocol: string;
  /** upper-cased: "UDP", "TCP", "TLS", "SCTP", "WS"... */
  transport: string;
  /** lower-cased; an IPv6 reference keeps its brackets */
  host: string;
  port: number | undefined;
  /** in order, lower-cased names: branch, received, rport (null when sent without a value), maddr, ttl... */
  params: Params;
}

function readToken(s: string, i: number): number {
  while (i < s.length && inTable(TOKEN, s.charCodeAt(i))) i++;
  return i;
}

/** Parses one via-parm; undefined when malformed. */
export function parseVia(value: string): Via | undefined {
  let i = skipWsp(value, 0);
  const p0 = i;
  i = readToken(value, i);
  if (i === p0) return undefined;
  const name = value.slice(p0, i).toUpperCase();
  i = skipWsp(value, i);
  if (value.charCodeAt(i) !== 0x2f) return undefined;
  i = skipWsp(value, i + 1);
  const v0 = i;
  i = readToken(value, i);
  if (i === v0) return undefined;
  const version = value.slice(v0, i);
  i = skipWsp(value, i);
  if (value.charCodeAt(i) !== 0x2f) return undefined;
  i = skipWsp(value, i + 1);
  const t0 = i;
  i = readToken(value, i);
  if (i === t0) return undefined;
  const transport = value.slice(t0, i).toUpperCase();
  // LWS between sent-protocol and sent-by is required.
  if (!isWsp(value.charCodeAt(i))) return undefined;
  i = skipWsp(value, i);
  const hp = readHostPort(value, i, true);
  if (!hp) return undefined;
  const params = parseParams(value, hp.end);
  if (!params) return undefined;
  // RFC 3581 §3: rport carries no value in a request, a port number in a response.
  const rport = params.get("rport");
  if (rport !== undefined && rport !== null && (!isDigits(rport) || rport.length > 5)) return undefined;
  return { protocol: `${name}/${version}`, transport, host: hp.host, port: hp.port, params };
}

/** Writes a via-parm back: `SIP/2.0/UDP host:port;branch=...`. */
export function formatVia(via: Via): string {
  const port = via.port === undefined ? "" : `:${via.port}`;
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}
