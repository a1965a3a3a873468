// Where a request goes, or why not (RFC 3261 §16.3 request validation, §16.4 route information
// preprocessing, §16.5 determining the targets): a routing decision, nothing sent.
import type { DigestAuthenticator } from "../auth/digest.js";
import { parseAuthHeader } from "../message/auth-header.js";
import { optionTags, parseMaxForwards } from "../message/fields.js";
import { parseNameAddr } from "../message/name-addr.js";
import type { SipRequest } from "../message/types.js";
import { type Binding, type LocationService, qOf } from "../registrar/location.js";
import {
  type Flow,
  type FlowAddress,
  isReliable,
  isSecure,
  type SelfAddress,
  transportNamed,
} from "../transport/flow.js";
import { type FlowTokens, sameFlow } from "./flow-token.js";
import { FLOW_A, FLOW_B, FLOW_NODE } from "./forward.js";
import { type CallTarget, type CallTargetSource, classifyAddress } from "./targets.js";

/** Dialog-creating methods get our Record-Route (§16.6 step 4). */
const DIALOG_CREATING = new Set(["INVITE", "SUBSCRIBE", "REFER", "NOTIFY"]);

export interface Target {
  uri: string;
  /** where the request goes: the binding's flow, or the first hop of its Path */
  flow: FlowAddress;
  /** the binding's q (1 when it had none): a lower q rings only after a higher one failed */
  q: number;
  /** when the binding was last refreshed (a non-INVITE goes to the freshest) */
  updatedAt: number;
  /** the binding's Path, sent as the request's Route set (RFC 3327 §5.4) */
  routes?: readonly string[];
}

/** Where a request goes, or why not. */
export type Decision =
  | { kind: "reject"; status: number; reason: string; extra?: string[] }
  | {
      kind: "fork";
      targets: Target[];
      /** the extension called, and the calling extension ("" for a call to the direct URI) */
      callee: CallTarget;
      caller: string;
      direct: boolean;
    }
  | { kind: "in-dialog"; destination: FlowAddress; routes: string[] }
  /** from another node of the deployment, for a phone whose connection this node holds (§15) */
  | { kind: "relay"; destination: FlowAddress; routes: string[] };

export interface RouterOptions {
  /** the address written into our Via and Record-Route, per transport (a binding to it would loop) */
  self: SelfAddress;
  /**
   * Every host a Route entry may name us by (CONTRACT §9): the advertised host and the addresses
   * we listen on (bare IPv6, lower-cased names). Our domains count too, whatever the list says.
   */
  selfHosts: readonly string[];
  registrarDomain: string;
  directDomain: string;
  targets: CallTargetSource;
  location: LocationService;
  authenticator: DigestAuthenticator;
  flows: FlowTokens;
}

/**
 * Where a request for a binding goes (§16.5, §16.6 step 6): the flow it registered over (RFC 5626
 * §5.3, RFC 3581), or, when it registered through a Path, the first Path hop with the whole Path
 * as the Route set (RFC 3327 §5.4).
 */
function toTarget(b: Binding, nodeId: string, flows: FlowTokens): Target {
  const base = { uri: b.contact, q: qOf(b), updatedAt: b.updatedAt };
  const hop = b.path.length > 0 ? parseNameAddr(b.path[0] as string)?.sipUri : undefined;
  if (hop && hop.scheme !== "tel") {
    const transport = transportNamed(hop.params.get("transport")) ?? (hop.scheme === "sips" ? "TLS" : "UDP");
    const address = hop.host.startsWith("[") ? hop.host.slice(1, -1) : hop.host;
    return { ...base, flow: { transport, address, port: hop.port ?? 5060 }, routes: b.path };
  }
  const flow: FlowAddress = { transport: b.transport, address: b.receivedIp, port: b.receivedPort };
  // CONTRACT §15: a phone on another node's connection (TCP, TLS, WebSocket) is reached through
  // that node, told which flow by a signed token in a Route naming it; a UDP phone from anywhere.
  const at =
    b.node !== nodeId && b.nodeAddress !== "" && isReliable(b.transport)
      ? splitHostPort(b.nodeAddress)
      : undefined;
  if (at)
    return {
      ...base,
      flow: { transport: "UDP", ...at },
      routes: [`<sip:${b.nodeAddress};lr;${FLOW_NODE}=${flows.encode(flow)}>`],
    };
  return { ...base, flow };
}

/** "host:port" or "[v6]:port" as an address and a port. */
function splitHostPort(text: string): { address: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  return m?.[1] && m[2] ? { address: m[1], port: Number(m[2]) } : undefined;
}

export function router(o: RouterOptions) {
  const hasFlowTokens = (value: string) => parseNameAddr(value)?.sipUri?.params.has(FLOW_A) === true;
  /** The flow a Route of ours names for another node's request (FLOW_NODE), verified. */
  const nodeHop = (value: string) => {
    const token = parseNameAddr(value)?.sipUri?.params.get(FLOW_NODE);
    return token ? o.flows.decode(token) : undefined;
  };

  /** The Route values at the top of a route set that are ours (verified flow tokens). */
  function ourRoutes(routes: string[]): Array<{ a: FlowAddress; b: FlowAddress }> {
    const out: Array<{ a: FlowAddress; b: FlowAddress }> = [];
    for (const value of routes) {
      // Another node of the deployment signs with the same key: its entries are its own to take.
      if (!namesUs(value)) break;
      const params = parseNameAddr(value)?.sipUri?.params;
      const a = params?.get(FLOW_A);
      const b = params?.get(FLOW_B);
      const fa = a ? o.flows.decode(a) : undefined;
      const fb = b ? o.flows.decode(b) : undefined;
      if (!fa || !fb) break;
      out.push({ a: fa, b: fb });
    }
    return out;
  }

  const selfHosts = new Set(o.selfHosts.map((h) => h.toLowerCase()));
  const selfPorts = new Set(Object.values(o.self.ports));
  /**
   * A Route URI that names this server (§16.4: "If the first value in the Route header field
   * indicates this proxy, the proxy MUST remove that value"): one of our addresses with our port,
   * or with none when we listen on the scheme's default port (§19.1.2), or one of our domains.
   * This is the Route a phone pre-loads for its outbound proxy (RFC 3261 §8.1.2).
   */
  function namesUs(value: string): boolean {
    const uri = parseNameAddr(value)?.sipUri;
    if (!uri || uri.scheme === "tel" || uri.user !== undefined) return false;
    const host = uri.host.startsWith("[") ? uri.host.slice(1, -1) : uri.host;
    if (host === o.registrarDomain || host.endsWith(`.${o.registrarDomain}`) || host === o.directDomain)
      return true;
    if (!selfHosts.has(host)) return false;
    const defaultPort = uri.scheme === "sips" || uri.params.get("transport") === "tls" ? 5061 : 5060;
    return selfPorts.has(uri.port ?? defaultPort);
  }

  /** A binding that points back at this server would loop (§16.3 step 4). */
  const isSelf = (b: Binding) => b.receivedPort === o.self.ports.UDP && b.receivedIp === o.self.host;

  /** §16.5: the extension an address of ours names, after the caller proved who it is (407). */
  async function target(
    req: SipRequest,
    flow: Flow,
    key: string | undefined,
  ): Promise<{ target: CallTarget; caller: string; direct: boolean } | Decision | undefined> {
    const uri = req.requestUri;
    if (!uri) return { kind: "reject", status: 416, reason: "Unsupported URI Scheme" };
    const address = classifyAddress(uri.user, uri.host, o.registrarDomain, o.directDomain);
    // A public address: no authentication; an old or deleted hash is not found at once.
    if (address.kind === "direct") {
      const t = await o.targets.byDirectHash(address.hash);
      return t && { target: t, caller: "", direct: true };
    }
    if (address.kind !== "extension") {
      return { kind: "reject", status: 404, reason: "Not Found (not an address of this server)" };
    }
    // Callers of an extension's own address are extensions of the same customer (407 first).
    const authText = req.headers.get("Proxy-Authorization");
    const parsed = authText === undefined ? undefined : parseAuthHeader(authText);
    if (authText !== undefined && !parsed) {
      return { kind: "reject", status: 400, reason: "Bad Request (Malformed Proxy-Authorization)" };
    }
    const params = parsed && parsed.scheme.toLowerCase() === "digest" ? parsed.params : undefined;
    const auth = await o.authenticator.authenticate(params, address.domain, req.method, flow.remoteAddress);
    if (!auth.ok) {
      const extra = o.authenticator.challenge("Proxy-Authenticate", address.domain, auth.stale, key);
      return { kind: "reject", status: 407, reason: "Proxy Authentication Required", extra };
    }
    const t = await o.targets.byAddress(address.domain, address.user);
    return t && { target: t, caller: auth.cred.extensionId, direct: false };
  }

  return {
    /** Is this request for us to route (an extension address, a direct URI or one of our routes)? */
    handles(req: SipRequest): boolean {
      if (ourRoutes(req.headers.getAll("Route")).length > 0) return true;
      const uri = req.requestUri;
      if (!uri) return false;
      return classifyAddress(uri.user, uri.host, o.registrarDomain, o.directDomain).kind !== "foreign";
    },

    /** `key`: the request's transaction key (a retransmission's 407 carries the same nonce). */
    async decide(req: SipRequest, flow: Flow, key?: string): Promise<Decision> {
      // §16.3 step 3: Max-Forwards.
      const mfText = req.headers.get("Max-Forwards");
      const mf = mfText === undefined ? 70 : parseMaxForwards(mfText);
      if (mf === undefined)
        return { kind: "reject", status: 400, reason: "Bad Request (Malformed Max-Forwards)" };
      if (mf === 0) return { kind: "reject", status: 483, reason: "Too Many Hops" };
      // §16.3 step 5: this proxy understands no option a request may require of proxies.
      const required = optionTags(req.headers, "Proxy-Require");
      if (required.size > 0) {
        const extra = [`Unsupported: ${[...required].join(", ")}`];
        return { kind: "reject", status: 420, reason: "Bad Extension", extra };
      }

      // CONTRACT §10: a sips: Request-URI only over a secure transport (RFC 3261 §26.2.2).
      if (req.requestUri?.scheme === "sips" && !isSecure(flow.transport)) {
        return { kind: "reject", status: 416, reason: "Unsupported URI Scheme (sips: needs TLS or WSS)" };
      }
      // §16.4: Route entries naming us are removed: first those a phone pre-loads for its outbound
      // proxy, then our Record-Route entries, whose flow tokens say where the dialog's ends are.
      const given = req.headers.getAll("Route");
      let skip = 0;
      let relayTo: FlowAddress | undefined;
      while (skip < given.length && namesUs(given[skip] as string) && !hasFlowTokens(given[skip] as string)) {
        relayTo ??= nodeHop(given[skip] as string);
        skip++;
      }
      const allRoutes = given.slice(skip);
      // Another node sent it here for a phone on one of our connections: on to that flow.
      if (relayTo) return { kind: "relay", destination: relayTo, routes: allRoutes };
      const ours = ourRoutes(allRoutes);
      const first = ours[0];
      if (first) {
        const from: FlowAddress = {
          transport: flow.transport,
          address: flow.remoteAddress,
          port: flow.remotePort,
        };
        // From the caller's side it goes to the callee, and the other way round.
        const { a, b } = first;
        const towardCallee = sameFlow(from, a) || (!sameFlow(from, b) && from.address === a.address);
        return { kind: "in-dialog", destination: towardCallee ? b : a, routes: allRoutes.slice(ours.length) };
      }
      if (allRoutes.length > 0) {
        return { kind: "reject", status: 403, reason: "Forbidden (Route is not through this server)" };
      }

      // Routed on the Request-URI as if the request had no Route (CONTRACT §9).
      const found = await target(req, flow, key);
      if (found && "kind" in found) return found;
      if (!found) return { kind: "reject", status: 404, reason: "Not Found" };
      const callee = found.target;
      const bindings = o.location.lookup(callee.extensionId).filter((b) => !isSelf(b));
      if (bindings.length === 0) return { kind: "reject", status: 480, reason: "Temporarily Unavailable" };
      return {
        kind: "fork",
        targets: bindings.map((b) => toTarget(b, o.location.node.id, o.flows)),
        callee,
        caller: found.caller,
        direct: found.direct,
      };
    },

    /** Dialog-creating methods get our Record-Route (§16.6 step 4). */
    recordsRoute: (method: string): boolean => DIALOG_CREATING.has(method),
  };
}

export type Router = ReturnType<typeof router>;
