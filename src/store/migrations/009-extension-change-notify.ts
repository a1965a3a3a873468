import { type Kysely, PostgresAdapter, sql } from "kysely";

// CONTRACT §15: on PostgreSQL every node caches extensions (the registrar's credentials, the
// proxy's direct hashes) and must drop them the moment any writer — another node, a worker, the
// `sipext` command — commits a change. A statement trigger tells the deployment bus's channel
// (deployment-bus.ts: `sipext_<schema>`, lower case as LISTEN folds it) at each commit that
// touched extensions; NOTIFY is transactional, so the message never comes before the change can
// be read. SQLite needs none of it (one server per data directory; data_version covers the CLI).
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    CREATE OR REPLACE FUNCTION sipext_extensions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify(
        'sipext_' || lower(regexp_replace(TG_TABLE_SCHEMA, '[^A-Za-z0-9_]', '_', 'g')),
        '{"n":"db","t":"ext","p":""}'
      );
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER extensions_changed AFTER INSERT OR UPDATE OR DELETE ON extensions
    FOR EACH STATEMENT EXECUTE FUNCTION sipext_extensions_changed()`.execute(db);
}
