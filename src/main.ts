// Composition root: config → store → services → HTTP + SIP; graceful shutdown.
import cluster from "node:cluster";
import { hkdfSync } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { locationDirectory } from "./adapters/contact-directory.js";
import {
  syncExtensionCache,
  syncLocation,
  syncLoginThrottle,
  syncRateLimits,
} from "./adapters/deployment-sync.js";
import { sipMetrics } from "./adapters/sip-metrics.js";
import { sqlLocationStore } from "./adapters/sql-location-store.js";
import { buildApp } from "./api/app.js";
import { httpPolicy } from "./api/http-policy.js";
import { type HttpListeners, listenHttp } from "./api/listeners.js";
import { LoginThrottle } from "./api/login-throttle.js";
import { RateLimiter } from "./api/rate-limit.js";
import type { ApiServices } from "./api/services.js";
import { type Config, tlsEnabled } from "./config.js";
import { postgresBus, soloBus } from "./deployment-bus.js";
import { accessKeyService } from "./domain/accesskeys.js";
import { auditService } from "./domain/audit.js";
import { authService } from "./domain/auth.js";
import { callService } from "./domain/calls.js";
import { contactService } from "./domain/contacts.js";
import { eventService } from "./domain/events.js";
import { extensionService } from "./domain/extensions.js";
import { provisioningService, type SipEndpoint } from "./domain/provisioning.js";
import { aesGcmSealer, loadOrCreateKey, rememberingSealer, type Sealer } from "./domain/secrets.js";
import { sipBanService } from "./domain/sip-bans.js";
import { tenantService } from "./domain/tenants.js";
import { webhookService } from "./domain/webhooks.js";
import { type WebhookWorker, webhookWorker } from "./domain/webhooks-worker.js";
import { bootstrap, type FirstRun } from "./first-run.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { readiness } from "./readiness.js";
import { LocationService } from "./sip/registrar/location.js";
import type { LocationStore } from "./sip/registrar/location-store.js";
import type { SipServer } from "./sip/stack.js";
import { startSip } from "./sip-server.js";
import { ChangeFeed } from "./store/change-feed.js";
import { type Db, openDatabase } from "./store/db.js";
import { EventNotifier } from "./store/events.js";
import { cachingExtensionStore } from "./store/extension-cache.js";
import type { Stores } from "./store/ports.js";
import { sqlStores } from "./store/sql-stores.js";
import { cachingUserStore } from "./store/user-cache.js";
import { sqlWebhookStore, type WebhookStore } from "./store/webhooks.js";
import { startSweeps } from "./sweeps.js";
import { loadTlsCertificate } from "./tls-certificate.js";
import { type Clock, systemClock } from "./util/time.js";
import { workerAffinity } from "./workers/worker.js";

export interface Core {
  db: Db;
  stores: Stores;
  services: ApiServices;
  location: LocationService;
  locationStore: LocationStore;
  clock: Clock;
  /** signs digest nonces; derived from the JWT key, which nodes of one deployment share */
  nonceKey: Buffer;
  /** signs the proxy's flow tokens; derived from the JWT key like nonceKey */
  flowKey: Buffer;
  /** told the source of every SIP ban lifted through the API */
  banLifted: Array<(source: string) => void>;
  /** on PostgreSQL: when the cached extensions may be stale (fed by the deployment bus) */
  extensionChanges: ChangeFeed;
  /** told after each commit that appended a customer's events */
  notifier: EventNotifier;
  /** seals extension passwords and webhook secrets */
  sealer: Sealer;
  /** the customers' webhooks; `changed` is told of each change made through the API */
  webhooks: { store: WebhookStore; changed: Array<(customerId: string) => void> };
  /** where provisioned phones send SIP (CONTRACT §17); the port is set once SIP listens */
  sipEndpoint: SipEndpoint;
  /** Writes the bindings still queued, then closes the database. */
  close(): Promise<void>;
}

/** Database, stores and domain services: what the server and the CLI both need. */
export async function openCore(config: Config, clock: Clock = systemClock(), logger?: Logger): Promise<Core> {
  const db = await openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    checkpointInBackground: true,
  });
  // This node's readers of new events (SSE streams, the webhook worker) are told after each commit.
  const notifier = new EventNotifier();
  const sql = sqlStores(db.kysely, { notifier, events: config.events });
  // The hot extension reads (credentials per REGISTER, direct hash per INVITE) are cached: on
  // SQLite dropped when another connection (the CLI) commits (CONTRACT §16); on PostgreSQL when
  // the deployment bus says a writer anywhere committed (migration 009's trigger, CONTRACT §15).
  const extensionChanges = new ChangeFeed();
  const version = db.dataVersion ?? extensionChanges.value;
  const stores = { ...sql, extensions: cachingExtensionStore(sql.extensions, undefined, version) };
  // Every token-authenticated request reads its user (CONTRACT §14); the CLI writes users too.
  if (db.dataVersion) stores.users = cachingUserStore(sql.users, db.dataVersion);
  const sealer = rememberingSealer(
    aesGcmSealer(loadOrCreateKey(config.dataDir, "encryption.key", config.encryptionKey)),
  );
  const jwtKey = loadOrCreateKey(config.dataDir, "jwt.key", config.jwtSecret);
  const accessKeys = accessKeyService({ accessKeys: stores.accessKeys, clock });
  // The SIP side subscribes to bans lifted through the API (it starts after the services).
  const banLifted: Array<(source: string) => void> = [];
  const locationStore = sqlLocationStore(db.kysely, {
    events: config.events,
    outbox: sql.outbox,
    now: clock,
  });
  const webhooks = { store: sqlWebhookStore(db.kysely), changed: [] as Array<(customerId: string) => void> };
  const location = new LocationService({
    store: locationStore,
    clock,
    // The binding is live in memory either way; a write the database refused must be heard of.
    onError: (err) => logger?.error({ err }, "binding write failed"),
  });
  const extensions = extensionService({
    extensions: stores.extensions,
    domains: stores.domains,
    sealer,
    clock,
    showPasswords: config.showPasswords,
    // A deleted extension's registrations end at once (CONTRACT §6).
    listeners: [
      (e) => {
        if (e.type === "deleted") location.removeAll(e.ext.id, "extension_deleted");
      },
    ],
  });
  const sipEndpoint: SipEndpoint = { host: config.sipAdvertisedHost, port: config.sipPort, transport: "udp" };
  const services: ApiServices = {
    accessKeys,
    auth: authService({ users: stores.users, accessKeys, jwtKey, clock }),
    tenants: tenantService({ stores, clock, registrarDomain: config.registrarDomain }),
    extensions,
    contacts: contactService({
      extensions: stores.extensions,
      directory: locationDirectory(location, clock),
      audit: stores.audit,
      clock,
    }),
    sipBans: sipBanService({ sipBans: stores.sipBans, clock, onLifted: banLifted }),
    events: eventService({ events: stores.events, notifier }),
    calls: callService({ calls: stores.calls }),
    webhooks: webhookService({
      store: webhooks.store,
      sealer,
      clock,
      allowPrivate: config.webhookAllowPrivate,
      onChanged: webhooks.changed,
    }),
    provisioning: provisioningService({
      links: stores.provisioning,
      extensions: stores.extensions,
      sealer,
      clock,
      showPasswords: config.showPasswords,
      sip: sipEndpoint,
      view: extensions.view,
    }),
    audit: auditService({ audit: stores.audit }),
  };
  const nonceKey = Buffer.from(hkdfSync("sha256", jwtKey, "", "sipext digest nonce", 32));
  const flowKey = Buffer.from(hkdfSync("sha256", jwtKey, "", "sipext flow token", 32));
  const close = async () => {
    await location.flush();
    await db.close();
  };
  return {
    db,
    stores,
    services,
    location,
    locationStore,
    clock,
    nonceKey,
    flowKey,
    banLifted,
    notifier,
    sealer,
    webhooks,
    sipEndpoint,
    extensionChanges,
    close,
  };
}

export interface Server {
  app: FastifyInstance;
  core: Core;
  httpPort: number;
  /** the HTTPS (and WSS) port, when TLS is on */
  httpsPort: number | undefined;
  /** the certificate's SHA-256 fingerprint and PEM, when TLS is on */
  tlsFingerprint: string | undefined;
  tlsCertificatePem: string | undefined;
  sip: SipServer;
  firstRun: FirstRun | undefined;
  /** this process's metrics (CONTRACT §12) */
  metrics: Metrics;
  /** Re-reads the certificate files (SIGHUP) for new TLS, HTTPS and WSS connections. */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

const withScrape = (scrape: (() => Promise<string>) | undefined) => (scrape ? { scrape } : {});

export interface ServerOptions {
  /** the scrape's text, when not this process's registry alone (SIPEXT_WORKERS) */
  scrape?: (metrics: Metrics) => (() => Promise<string>) | undefined;
}

export async function startServer(
  config: Config,
  logger: Logger,
  clock?: Clock,
  options: ServerOptions = {},
): Promise<Server> {
  const core = await openCore(config, clock, logger);
  const metrics = createMetrics();
  const onBusError = (err: unknown) => logger.warn({ err }, "deployment bus");
  // CONTRACT §15: nodes on one PostgreSQL tell each other of changes (workers of one machine are
  // nodes too; config.ts refuses them on SQLite).
  const bus = config.databaseUrl
    ? await postgresBus(config.databaseUrl, onBusError).catch(async (err) => {
        await core.close();
        throw err;
      })
    : soloBus();
  core.location.node = { id: bus.nodeId, address: "" };
  if (!bus.alone) {
    syncLocation(bus, core.location, core.locationStore, onBusError);
    syncExtensionCache(bus, core.extensionChanges);
  }
  let app: FastifyInstance | undefined;
  let http: HttpListeners | undefined;
  let sip: SipServer | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let webhooks: WebhookWorker | undefined;
  let stopping = false;
  // CONTRACT §12: stop accepting (HTTP and SIP at once), let requests under way finish, then
  // write the bindings still queued and close the database. Events were committed with their
  // changes; the webhook worker gives its leases back for another node to go on.
  const stopAll = async () => {
    stopping = true;
    clearInterval(sweeper);
    await webhooks?.stop();
    await Promise.all([http ? http.close() : app?.close(), sip?.close()]);
    // The last bindings written while the bus can still tell the other nodes of them.
    await core.location.flush();
    await bus.close();
    await core.close();
  };
  try {
    const restored = await core.location.load();
    const tlsSource = {
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
      selfSigned: config.tlsSelfSigned,
      dataDir: config.dataDir,
      host: config.sipAdvertisedHost,
    };
    const tls = tlsEnabled(config) ? await loadTlsCertificate(tlsSource) : undefined;
    const policy = httpPolicy(config);
    const loginThrottle = new LoginThrottle();
    if (!bus.alone) syncLoginThrottle(bus, loginThrottle);
    const rateLimiter = new RateLimiter({
      ipRate: config.rateLimitIp,
      customerRate: config.rateLimitCustomer,
    });
    if (!bus.alone) syncRateLimits(bus, rateLimiter);
    app = await buildApp({
      services: core.services,
      logger,
      policy,
      loginThrottle,
      console: { directDomain: config.directDomain, showPasswords: config.showPasswords },
      operations: {
        metrics,
        metricsToken: config.metricsToken,
        notReady: readiness({
          db: core.db,
          tls: tls !== undefined,
          http: () => http,
          sip: () => sip,
          stopping: () => stopping,
        }),
        ...withScrape(options.scrape?.(metrics)),
      },
      rateLimiter,
    });
    http = await listenHttp(app, {
      policy,
      host: config.httpHost,
      port: config.httpPort,
      https: tls && { port: config.httpsPort, secure: tls.secure },
      // Until SIP is up (a few milliseconds), a SIP WebSocket is told to come back.
      onSipUpgrade: (req, socket, head, secure) =>
        sip
          ? sip.websocket.handleUpgrade(req, socket, head, secure)
          : socket.end("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"),
    });
    const { httpPort, httpsPort } = http;
    const sipServer = await startSip({
      bus,
      config,
      core,
      logger,
      webPorts: { WS: httpPort, WSS: httpsPort },
      tls: tls?.secure,
      udpAffinity: workerAffinity(),
      metrics: sipMetrics(metrics),
    });
    sip = sipServer;
    // Provisioned phones are sent to the port SIP really listens on (port 0 picks one).
    core.sipEndpoint.port = sipServer.port;
    // Where other nodes relay to this process (a worker: its own port, not the shared one).
    core.location.node.address = `${config.sipAdvertisedHost}:${sipServer.ownPort ?? sipServer.port}`;
    // Only now that every listener is bound (CONTRACT §14): a start that failed creates nothing.
    // Workers leave it to their primary, once all of them serve.
    const firstRun = cluster.isWorker ? undefined : await bootstrap(core, config);
    // Webhook delivery (CONTRACT §11): this node's share, in order, one node per customer at a time.
    if (config.events) {
      const worker = webhookWorker({
        store: core.webhooks.store,
        events: core.stores.events,
        notifier: core.notifier,
        sealer: core.sealer,
        clock: core.clock,
        log: logger,
        allowPrivate: config.webhookAllowPrivate,
        onAttempt: (result) => metrics.webhookDeliveries.inc({ result }),
      });
      core.webhooks.changed.push((customerId) => worker.changed(customerId));
      worker.start();
      webhooks = worker;
    }
    sweeper = startSweeps(core, logger);
    logger.info(
      {
        httpPort,
        httpsPort,
        sipPort: sip.port,
        sipTlsPort: sip.tlsPort,
        database: core.db.dialect,
        bindings: restored,
      },
      `sipext API listening on http://${config.httpHost}:${httpPort}`,
    );
    if (tls)
      logger.info({ fingerprint: tls.fingerprint }, `TLS certificate SHA-256 fingerprint ${tls.fingerprint}`);
    const listeners = { http, sip: sipServer };
    return {
      app,
      core,
      httpPort,
      httpsPort,
      tlsFingerprint: tls?.fingerprint,
      tlsCertificatePem: tls?.certPem,
      sip: listeners.sip,
      firstRun,
      metrics,
      async reloadTls() {
        if (!tls) return;
        const fresh = await loadTlsCertificate(tlsSource);
        listeners.http.setSecureContext(fresh.secure);
        listeners.sip.setSecureContext(fresh.secure);
        logger.info({ fingerprint: fresh.fingerprint }, "TLS certificate reloaded");
      },
      close: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
