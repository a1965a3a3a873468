// tm_create doubles as the page token, so it is unique per customer (see the migration). This
// inserts a row and, when another node (or a frozen clock) took the same microsecond, moves it
// just after the customer's newest item and tries again. Other collisions go to `onConflict`,
// which either fixes the row (returns true: try again) or throws.
import { randomInt } from "node:crypto";
import { UniqueViolationError } from "../store/ports.js";
import { formatMicros, type Micros, parseTimestamp } from "../util/time.js";

const MAX_ATTEMPTS = 50;

export async function insertWithUniqueTime<R extends { tm_create: string }>(
  row: R,
  insert: (row: R) => Promise<void>,
  latest: () => Promise<string | undefined>,
  onConflict: (field: string) => boolean,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      await insert(row);
      return row;
    } catch (err) {
      if (!(err instanceof UniqueViolationError) || attempt >= MAX_ATTEMPTS) throw err;
      if (err.field === "tm_create") {
        const newest = await latest();
        const after: Micros = (newest ? (parseTimestamp(newest) ?? 0) : 0) + 1;
        const mine = parseTimestamp(row.tm_create) ?? 0;
        // Concurrent inserts that lost to the same row all read the same newest one: a random
        // step, wider at each attempt (at most ~1 ms), keeps them from colliding again and again.
        const spread = randomInt(Math.min(2 ** attempt, 1024));
        row.tm_create = formatMicros(Math.max(after, mine + 1) + spread);
      } else if (!onConflict(err.field)) {
        throw err;
      }
    }
  }
}
