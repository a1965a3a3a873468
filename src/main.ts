// Composition root: config → store → services → HTTP + SIP; graceful shutdown.
import { hkdfSync } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "./api/app.js";
import type { ApiServices } from "./api/services.js";
import type { Config } from "./config.js";
import { accessKeyService } from "./domain/accesskeys.js";
import { authService } from "./domain/auth.js";
import { contactService } from "./domain/contacts.js";
import { extensionService } from "./domain/extensions.js";
import { aesGcmSealer, loadOrCreateKey, rememberingSealer } from "./domain/secrets.js";
import { tenantService } from "./domain/tenants.js";
import { storeCallTargets, storeCredentials } from "./registrar-credentials.js";
import { SipProxy } from "./sip/proxy/proxy.js";
import { digestAuthenticator } from "./sip/registrar/authenticator.js";
import { locationDirectory } from "./sip/registrar/directory.js";
import { LocationService } from "./sip/registrar/location.js";
import { NonceService } from "./sip/registrar/nonce.js";
import { registrar } from "./sip/registrar/registrar.js";
import { type SipServer, startSipServer } from "./sip/stack.js";
import { type Db, openDatabase } from "./store/db.js";
import { cachingExtensionStore } from "./store/extension-cache.js";
import type { Stores } from "./store/ports.js";
import { sqlStores } from "./store/sql-stores.js";
import { type Clock, systemClock } from "./util/time.js";

export interface Core {
  db: Db;
  stores: Stores;
  services: ApiServices;
  location: LocationService;
  clock: Clock;
  /** signs digest nonces; derived from the JWT key, which nodes of one deployment share */
  nonceKey: Buffer;
  /** signs the proxy's flow tokens; derived from the JWT key like nonceKey */
  flowKey: Buffer;
  /** Writes the bindings still queued, then closes the database. */
  close(): Promise<void>;
}

/** Database, stores and domain services: what the server and the CLI both need. */
export async function openCore(config: Config, clock: Clock = systemClock(), logger?: Logger): Promise<Core> {
  const db = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const sql = sqlStores(db.kysely);
  // Embedded SQLite has one server as its only writer of extensions: its hot reads can be cached.
  const stores =
    db.dialect === "sqlite" ? { ...sql, extensions: cachingExtensionStore(sql.extensions) } : sql;
  const sealer = rememberingSealer(
    aesGcmSealer(loadOrCreateKey(config.dataDir, "encryption.key", config.encryptionKey)),
  );
  const jwtKey = loadOrCreateKey(config.dataDir, "jwt.key", config.jwtSecret);
  const accessKeys = accessKeyService({ accessKeys: stores.accessKeys, clock });
  const location = new LocationService({
    store: stores.bindings,
    clock,
    // The binding is live in memory either way; a write the database refused must be heard of.
    onError: (err) => logger?.error({ err }, "binding write failed"),
  });
  const services: ApiServices = {
    accessKeys,
    auth: authService({ users: stores.users, accessKeys, jwtKey, clock }),
    tenants: tenantService({ stores, clock, registrarDomain: config.registrarDomain }),
    extensions: extensionService({
      extensions: stores.extensions,
      domains: stores.domains,
      sealer,
      clock,
      showPasswords: config.showPasswords,
      // A deleted extension's registrations end at once (CONTRACT §6).
      listeners: [
        (e) => {
          if (e.type === "deleted") location.removeAll(e.ext.id);
        },
      ],
    }),
    contacts: contactService({
      extensions: stores.extensions,
      directory: locationDirectory(location, clock),
    }),
  };
  const nonceKey = Buffer.from(hkdfSync("sha256", jwtKey, "", "sipext digest nonce", 32));
  const flowKey = Buffer.from(hkdfSync("sha256", jwtKey, "", "sipext flow token", 32));
  const close = async () => {
    await location.flush();
    await db.close();
  };
  return { db, stores, services, location, clock, nonceKey, flowKey, close };
}

export interface FirstRun {
  username: string;
  password: string;
  customerId: string;
  domainName: string;
}

/** On an empty database: one customer, its domain and an admin. Undefined on every later start. */
export async function bootstrap(core: Core, config: Config): Promise<FirstRun | undefined> {
  if (!(await core.services.tenants.isEmpty())) return undefined;
  try {
    const t = await core.services.tenants.createTenant({
      name: "default",
      detail: "created on first start",
      admin: { username: config.adminUsername, password: config.adminPassword },
    });
    if (!t.admin) return undefined;
    return {
      username: t.admin.user.username,
      password: t.admin.password,
      customerId: t.customer.id,
      domainName: t.domain.domain_name,
    };
  } catch (err) {
    // Another node sharing the database bootstrapped at the same moment: it printed the login.
    if (!(await core.services.tenants.isEmpty())) return undefined;
    throw err;
  }
}

export interface Server {
  app: FastifyInstance;
  core: Core;
  httpPort: number;
  sip: SipServer;
  firstRun: FirstRun | undefined;
  close(): Promise<void>;
}

const SWEEP_MS = 30_000;

export async function startServer(config: Config, logger: Logger, clock?: Clock): Promise<Server> {
  const core = await openCore(config, clock, logger);
  let app: FastifyInstance | undefined;
  let sip: SipServer | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const stopAll = async () => {
    clearInterval(sweeper);
    await app?.close();
    await sip?.close();
    await core.close();
  };
  try {
    const firstRun = await bootstrap(core, config);
    const restored = await core.location.load();
    // Nonces age on the same clock as everything else (tests move it to make a nonce stale).
    const credentials = storeCredentials(core.stores, config.registrarDomain);
    const sipLogger = logger.child({ layer: "sip" });
    const nonces = new NonceService({ key: core.nonceKey, now: () => Math.floor(core.clock() / 1000) });
    sip = await startSipServer({
      host: config.sipHost,
      port: config.sipPort,
      logger: sipLogger,
      nonces,
      clock: core.clock,
      offerSha256: config.digestSha256,
      proxy: ({ port, send, nonInviteServer }) =>
        new SipProxy({
          self: { host: config.sipAdvertisedHost, port },
          registrarDomain: config.registrarDomain,
          directDomain: config.directDomain,
          targets: storeCallTargets(core.stores, config.registrarDomain),
          location: core.location,
          authenticator: digestAuthenticator(credentials, nonces),
          nonces,
          flowKey: core.flowKey,
          send,
          nonInviteServer,
          ringTimeoutMs: config.ringTimeoutS * 1000,
          logger: sipLogger,
        }),
      registrar: registrar({
        credentials,
        nonces,
        location: core.location,
      }),
    });
    sweeper = setInterval(() => {
      core.location.sweep().catch((err: unknown) => logger.warn({ err }, "binding sweep failed"));
    }, SWEEP_MS);
    sweeper.unref();
    app = await buildApp({ services: core.services, logger });
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const address = app.server.address();
    const httpPort = typeof address === "object" && address ? address.port : config.httpPort;
    logger.info(
      { httpPort, sipPort: sip.port, database: core.db.dialect, bindings: restored },
      `sipext API listening on http://${config.httpHost}:${httpPort}`,
    );
    return { app, core, httpPort, sip, firstRun, close: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
