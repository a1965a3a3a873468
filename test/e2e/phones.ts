// What every real-client suite shares, whatever the client (baresip, SIP.js, linphonec):
//
// - `Phones` keeps the phones a test started; `explain()` appends every one's log (its events,
//   output, SIP trace) to the message of whatever failed inside it, so that a failure in CI says
//   what the phones saw; `stopAll()` ends them after the test.
// - `phoneSuite(kind, env)` is a suite's server on one database (hooks registered), the admin's API
//   client, a `Phones`, and a way to create a fresh extension and read its contacts.
// - `waitFor` polls an async probe.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import {
  type Client,
  client,
  type DbKind,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { killChildren } from "./sipp.js";

/** Anything a test starts that can tell what it saw and be stopped. */
export interface Phone {
  /** what the phone saw (events, output, SIP messages), for an assertion message */
  log(): string;
  stop(): Promise<unknown>;
}

/** The phones of a test (or suite), stopped together; failures explained with their logs. */
export class Phones {
  private readonly all: Phone[] = [];

  /** Keeps `phone` (already started) with the others. */
  add<P extends Phone>(phone: P): P {
    this.all.push(phone);
    return phone;
  }

  /** Runs `body`; whatever it throws gets every phone's log appended. */
  async explain<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof Error) err.message += `\n${this.all.map((p) => p.log()).join("\n")}`;
      throw err;
    }
  }

  async stopAll(): Promise<void> {
    const all = this.all.splice(0);
    await Promise.all(all.map((p) => p.stop().catch(() => {})));
  }
}

/** Polls an async probe until it returns something; fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An extension created through the API for a test. */
export interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

/**
 * A suite's server on `kind` (its hooks registered here; `env` added to its environment), the
 * admin's API client, and the phones of each test, stopped after it.
 */
export function phoneSuite(kind: DbKind, env: Record<string, string> = {}) {
  let n = 0;
  const s = {
    h: undefined as unknown as Harness,
    api: undefined as unknown as Client,
    phones: new Phones(),
    /** `GET /v1.0/extensions/{id}/contacts` */
    async contactsOf(id: string): Promise<Contact[]> {
      const res = await s.api.get<{ result: Contact[] }>(`/v1.0/extensions/${id}/contacts`);
      expect(res.status).toBe(200);
      return res.body.result;
    },
    /** A fresh extension (`<prefix><n>-<random>`) with a random password the suite keeps secret. */
    async extension(prefix = "x"): Promise<Ext> {
      n++;
      const ext = `${prefix}${n}-${randomBytes(2).toString("hex")}`;
      const password = s.h.secret(`Pw-${randomBytes(6).toString("hex")}`);
      const res = await s.api.post("/v1.0/extensions", { extension: ext, password });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
    },
    /** Waits until every one of `exts` has a binding. */
    async registered(...exts: Ext[]): Promise<void> {
      for (const e of exts) {
        await waitFor(`the binding of ${e.ext}`, async () =>
          (await s.contactsOf(e.id)).length > 0 ? true : undefined,
        );
      }
    },
  };
  beforeAll(async () => {
    s.h = await startHarness(kind, { env });
    s.api = client(s.h.url, s.h.admin.token);
  });
  afterEach(async () => {
    await s.phones.stopAll();
  });
  afterAll(async () => {
    await s.phones.stopAll();
    killChildren();
    await stopHarness(s.h);
  });
  return s;
}
