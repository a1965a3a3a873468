// Composition root: config → store → services → HTTP (and later SIP); graceful shutdown.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "./api/app.js";
import type { ApiServices } from "./api/services.js";
import type { Config } from "./config.js";
import { accessKeyService } from "./domain/accesskeys.js";
import { authService } from "./domain/auth.js";
import { extensionService } from "./domain/extensions.js";
import { aesGcmSealer, loadOrCreateKey } from "./domain/secrets.js";
import { tenantService } from "./domain/tenants.js";
import { type Db, openDatabase } from "./store/db.js";
import type { Stores } from "./store/ports.js";
import { sqlStores } from "./store/sql-stores.js";
import { type Clock, systemClock } from "./util/time.js";

export interface Core {
  db: Db;
  stores: Stores;
  services: ApiServices;
}

/** Database, stores and domain services: what the server and the CLI both need. */
export async function openCore(config: Config, clock: Clock = systemClock()): Promise<Core> {
  const db = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const stores = sqlStores(db.kysely);
  const sealer = aesGcmSealer(loadOrCreateKey(config.dataDir, "encryption.key", config.encryptionKey));
  const jwtKey = loadOrCreateKey(config.dataDir, "jwt.key", config.jwtSecret);
  const accessKeys = accessKeyService({ accessKeys: stores.accessKeys, clock });
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
    }),
  };
  return { db, stores, services };
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
  firstRun: FirstRun | undefined;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, clock?: Clock): Promise<Server> {
  const core = await openCore(config, clock);
  let app: FastifyInstance | undefined;
  try {
    const firstRun = await bootstrap(core, config);
    app = await buildApp({ services: core.services, logger });
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const address = app.server.address();
    const httpPort = typeof address === "object" && address ? address.port : config.httpPort;
    logger.info(
      { httpPort, database: core.db.dialect },
      `sipext API listening on http://${config.httpHost}:${httpPort}`,
    );
    const server = app;
    return {
      app: server,
      core,
      httpPort,
      firstRun,
      async close() {
        await server.close();
        await core.db.close();
      },
    };
  } catch (err) {
    await app?.close();
    await core.db.close();
    throw err;
  }
}
