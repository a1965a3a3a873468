// The SIP side of the composition root: nonces, the one authenticator of the registrar's 401 and
// the proxy's 407, the registrar and the proxy, on the SIP stack with the store's adapters.

import { isIPv6 } from "node:net";
import type { SecureContextOptions } from "node:tls";
import type { Logger } from "pino";
import { authFailedEvents } from "./adapters/auth-failed-events.js";
import { recordCalls } from "./adapters/call-records.js";
import { syncBanLifts, syncGuards } from "./adapters/deployment-sync.js";
import { keepBans, loadBans } from "./adapters/sip-bans.js";
import { storeCallTargets, storeCredentials } from "./adapters/sip-credentials.js";
import type { SipMetrics } from "./adapters/sip-metrics.js";
import { addressBlocks, type Config, sipSelfHosts } from "./config.js";
import type { DeploymentBus } from "./deployment-bus.js";
import type { Core } from "./main.js";
import { digestAuthenticator } from "./sip/auth/digest.js";
import { NonceService } from "./sip/auth/nonce.js";
import { SourceBans } from "./sip/guard/bans.js";
import { OverloadMeter } from "./sip/guard/overload.js";
import { SipProxy } from "./sip/proxy/proxy.js";
import { registerUas } from "./sip/registrar/register-uas.js";
import { registrar } from "./sip/registrar/registrar.js";
import { type SipServer, startSipServer } from "./sip/stack.js";
import type { UdpAffinity } from "./sip/transport/udp-affinity.js";

export interface SipServerParts {
  /** the deployment's bus: bans and nonce-counts hold on every node (CONTRACT §15) */
  bus: DeploymentBus;
  config: Config;
  core: Core;
  logger: Logger;
  /** the HTTP and HTTPS ports, where WS and WSS come in (our Via and Record-Route name them) */
  webPorts: { WS: number; WSS?: number | undefined };
  /** the certificate of SIP over TLS, when TLS is on */
  tls: SecureContextOptions | undefined;
  /** a worker's share of the UDP port (SIPEXT_WORKERS) */
  udpAffinity?: UdpAffinity | undefined;
  /** CONTRACT §12's SIP families */
  metrics?: SipMetrics | undefined;
}

export async function startSip({
  bus,
  config,
  core,
  logger,
  webPorts,
  tls,
  udpAffinity,
  metrics,
}: SipServerParts): Promise<SipServer> {
  const sipLogger = logger.child({ layer: "sip" });
  // CONTRACT §14: guessers banned, connections per source capped, new work refused when overloaded.
  const trusted = addressBlocks(config.sipTrustedSources);
  const bans = new SourceBans({
    failures: config.sipBanFailures,
    windowMs: config.sipBanWindowS * 1000,
    banMs: config.sipBanTimeS * 1000,
    trusted: (address) => trusted?.check(address, isIPv6(address) ? "ipv6" : "ipv4") ?? false,
  });
  bans.onBan((ban) =>
    sipLogger.warn(
      { source: ban.source, failures: ban.failures, realm: ban.target.realm },
      "SIP source banned",
    ),
  );
  await keepBans(
    bans,
    {
      stores: core.stores,
      banLifted: core.banLifted,
      onError: (err) => sipLogger.error({ err }, "SIP ban not stored"),
    },
    Date.now(),
  );
  const authFailed = authFailedEvents({
    stores: core.stores,
    clock: core.clock,
    onError: (err) => sipLogger.error({ err }, "auth failure event not written"),
  });
  const overload = new OverloadMeter({
    maxLagMs: config.sipOverloadLagMs,
    maxPending: 5_000,
    maxUtilization: config.sipOverloadUtilization / 100,
  });
  // Call records (CONTRACT §13), and calls_total{result} for the metrics.
  const calls = recordCalls({
    calls: core.stores.calls,
    clock: core.clock,
    onStarted: () => metrics?.callStarted(),
    onEnded: (result) => metrics?.callEnded(result),
    onError: (err) => sipLogger.error({ err }, "call record not written"),
  });
  const sweeper = setInterval(
    () => void calls.sweep().catch((err: unknown) => sipLogger.warn({ err }, "call sweep failed")),
    60_000,
  );
  sweeper.unref();
  // Nonces age on the same clock as everything else (tests move it to make a nonce stale).
  const nonces = new NonceService({ key: core.nonceKey, clock: core.clock });
  const authenticator = digestAuthenticator({
    credentials: storeCredentials(core.stores, config.registrarDomain),
    nonces,
    offerSha256: config.digestSha256,
    onFailure: (source, target, method) => {
      metrics?.authFailed(method === "REGISTER" ? "register" : "invite");
      bans.failed(source, target);
      if (config.events) authFailed(source, target, method);
    },
  });
  const registrarCore = registrar({ authenticator, location: core.location });
  if (!bus.alone) {
    syncGuards(bus, nonces, bans);
    syncBanLifts(bus, core.banLifted, bans);
    // Bans made elsewhere while this node did not hear the bus are in the database.
    bus.onRegained(() => {
      loadBans(bans, core.stores, Date.now()).catch((err) => sipLogger.error({ err }, "SIP bans not read"));
    });
  }
  const server = await startSipServer({
    host: config.sipHost,
    port: config.sipPort,
    logger: sipLogger,
    ...(tls ? { tls: { port: config.sipTlsPort, secure: tls } } : {}),
    guard: { bans, overload, maxConnectionsPerSource: config.maxConnectionsPerSource },
    ...(udpAffinity ? { udpAffinity } : {}),
    ...(metrics ? { observer: metrics } : {}),
    registrar: ({ transactions, stats }) =>
      registerUas({
        registrar: registrarCore,
        challenge: authenticator.challenge,
        transactions,
        clock: core.clock,
        onBadRequest: () => stats.badRequests++,
        ...(metrics ? { onOutcome: (status: number) => metrics.registration(status) } : {}),
        onError: (err) => sipLogger.warn({ err }, "REGISTER failed"),
        track: () => overload.begin(),
      }),
    proxy: ({ ports, send, transactions }) =>
      new SipProxy({
        self: { host: config.sipAdvertisedHost, ports: { ...ports, ...webPorts } },
        selfHosts: sipSelfHosts(config),
        registrarDomain: config.registrarDomain,
        directDomain: config.directDomain,
        targets: storeCallTargets(core.stores, config.registrarDomain),
        location: core.location,
        authenticator,
        flowKey: core.flowKey,
        send,
        transactions,
        ringTimeoutMs: config.ringTimeoutS * 1000,
        logger: sipLogger,
        track: () => overload.begin(),
        calls,
      }),
  });
  const stack = server;
  metrics?.watch({ stats: stack.stats, bindings: () => core.location.size(), bans: () => bans.size });
  return {
    ...stack,
    async close() {
      clearInterval(sweeper);
      await stack.close();
      await calls.settled();
    },
  };
}
