import type { Kysely } from "kysely";

// CONTRACT §14: deleting a user, or changing its password or role, invalidates its login tokens at
// once. Every such change increments token_version; a JWT carries the version it was issued
// under (claim `ver`, absent = 0 for tokens issued before this migration) and is valid only while
// it is still the user's.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("token_version", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
}
