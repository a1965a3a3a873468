// SIPEXT_WORKERS (CONTRACT §15), run as an operator runs it: `sipext serve` with two workers on
// one PostgreSQL schema. The workers share the HTTP and SIP ports; the kernel hands each UDP
// datagram to whichever worker reads first, and every datagram of one Call-ID must reach the
// worker that holds its transaction (src/sip/transport/udp-affinity.ts). Checked with phones
// whose Call-IDs belong to each worker: registrations at both, listed by both; a busy callee's 486
// ACKed by the proxy and a CANCEL meeting its INVITE (both fail if a datagram lands on the other
// worker); real baresip phones calling each other; a worker killed with kill -9 and started
// again while its phones keep registering; SIGTERM ending every process.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { slotOf } from "../../src/sip/transport/udp-affinity.js";
import { type Served, serve } from "../helpers/cli.js";
import { type Client, client, DATABASES, newSchemaUrl } from "../helpers/harness.js";
import { sleep, token } from "../sip/raw-sip.js";
import { startBaresip } from "./baresip.js";
import { Phones } from "./phones.js";
import { answerTo, firstLine, headerValue, RawPhone } from "./raw-phone.js";

const WORKERS = 2;
const ADMIN_PASSWORD = `Adm-${token()}`;

interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

describe.runIf(DATABASES.includes("postgres"))("two workers on one machine (SIPEXT_WORKERS=2)", () => {
  let served: Served;
  let api: Client;
  let sipPort: number;
  let domain: string;
  let databaseUrl: string;
  const raw: RawPhone[] = [];
  const phones = new Phones();

  /** `"worker":<slot>,"pid":<pid>,"msg":"worker serving"` lines, in order. */
  const servingPids = (slot: number) =>
    [...served.output().stdout.matchAll(/"worker":(\d+),"pid":(\d+),"msg":"worker serving"/g)]
      .filter((m) => Number(m[1]) === slot)
      .map((m) => Number(m[2]));

  beforeAll(async () => {
    databaseUrl = newSchemaUrl();
    served = await serve(
      {
        SIPEXT_WORKERS: String(WORKERS),
        DATABASE_URL: databaseUrl,
        SIPEXT_DATA_DIR: mkdtempSync(join(tmpdir(), "sipext-workers-")),
        SIPEXT_ADMIN_PASSWORD: ADMIN_PASSWORD,
        SIPEXT_SIP_TRUSTED_SOURCES: "127.0.0.1",
      },
      120_000,
    );
    await served.waitFor(/sipext serving with 2 workers/, 120_000);
    await served.waitFor(/SIP domain: +\S+/);
    const out = served.output().stdout;
    sipPort = Number(/"sipPort":(\d+)/.exec(out)?.[1]);
    domain = /SIP domain: +(\S+)/.exec(out)?.[1] ?? "";
    const url = `http://127.0.0.1:${served.port}`;
    const login = await client(url).post("/auth/login", { username: "admin", password: ADMIN_PASSWORD });
    expect(login.status).toBe(200);
    api = client(url, login.body.token as string);
  }, 300_000);

  afterAll(async () => {
    for (const p of raw) await p.close();
    await phones.stopAll();
    await served?.stop();
  });

  async function extension(): Promise<Ext> {
    const ext = `w${token(3)}`;
    const password = `Pw-${token()}`;
    const res = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status).toBe(200);
    return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
  }

  /** A UDP phone of a fresh extension whose Call-ID (so its registrations) belongs to `slot`. */
  async function phoneOf(slot: number): Promise<{ e: Ext; phone: RawPhone }> {
    const e = await extension();
    for (;;) {
      const phone = await RawPhone.open({ sipPort, domain, ext: e.ext, password: e.password });
      if (slotOf(phone.callId, WORKERS) === slot) {
        raw.push(phone);
        return { e, phone };
      }
      await phone.close();
    }
  }

  /** A Call-ID that belongs to `slot`. */
  function callIdOf(slot: number): string {
    for (;;) {
      const id = `${token()}@workers-test`;
      if (slotOf(id, WORKERS) === slot) return id;
    }
  }

  const contactsOf = async (e: Ext) =>
    (await api.get<{ result: Contact[] }>(`/v1.0/extensions/${e.id}/contacts`)).body.result.map((c) => c.uri);

  async function nodesOfBindings(): Promise<number> {
    const schema = new URL(databaseUrl).searchParams.get("schema");
    const db = new pg.Client({ connectionString: databaseUrl.replace(/\?.*$/, "") });
    await db.connect();
    try {
      const r = await db.query(`SELECT COUNT(DISTINCT node_id) AS n FROM "${schema}".bindings`);
      return Number(r.rows[0].n);
    } finally {
      await db.end();
    }
  }

  const registered: Array<{ e: Ext; phone: RawPhone; slot: number }> = [];

  it("registers phones at both workers, and every worker lists every binding", async () => {
    for (const slot of [0, 1, 0, 1]) {
      const { e, phone } = await phoneOf(slot);
      expect(firstLine(await phone.registerWithDigest())).toBe("SIP/2.0 200 OK");
      registered.push({ e, phone, slot });
    }
    // Each worker is a node: both wrote bindings under their own node id.
    let nodes = 0;
    for (let i = 0; i < 40 && nodes < WORKERS; i++) {
      nodes = await nodesOfBindings();
      if (nodes < WORKERS) await sleep(50);
    }
    expect(nodes).toBe(WORKERS);
    // HTTP connections are dealt out to the workers in turn: several reads see both.
    for (const { e, phone } of registered) {
      for (let i = 0; i < 4; i++) expect(await contactsOf(e)).toEqual([phone.contact]);
    }
  });

  /** An INVITE from `caller` to the direct URI of `e` with Call-ID `callId`. */
  function invite(caller: RawPhone, e: Ext, callId: string, branch: string): string {
    const uri = `sip:direct.${e.hash}@sip.localhost`;
    return [
      `INVITE ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${branch};rport`,
      "Max-Forwards: 70",
      "From: <sip:caller@example.net>;tag=c1",
      `To: <${uri}>`,
      `Call-ID: ${callId}`,
      "CSeq: 1 INVITE",
      `Contact: <sip:caller@127.0.0.1:${caller.port}>`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
  }

  /** A CANCEL or the ACK of a non-2xx: the INVITE's Request-URI, Via and Call-ID (RFC 3261 §9.1, §17.1.1.3). */
  function sameTransaction(inviteText: string, method: "CANCEL" | "ACK", to?: string): string {
    const lines = inviteText.split("\r\n");
    const uri = (lines[0] ?? "").split(" ")[1];
    const keep = lines.filter((l) => /^(Via|Max-Forwards|From|Call-ID):/i.test(l));
    const toLine = to ? `To: ${to}` : (lines.find((l) => l.startsWith("To:")) ?? "");
    return [
      `${method} ${uri} SIP/2.0`,
      ...keep,
      toLine,
      `CSeq: 1 ${method}`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
  }

  it("keeps each call on the worker its Call-ID belongs to: a 486 is ACKed by the proxy, a CANCEL meets its INVITE", async () => {
    expect(registered.length, "the phones of the first test").toBe(4);
    const caller = await RawPhone.open({ sipPort, domain: "x", ext: "caller", password: "x" });
    raw.push(caller);
    const isInviteOf = (id: string) => (m: string) =>
      m.startsWith("INVITE ") && headerValue(m, "Call-ID") === id;
    // Calls whose Call-IDs belong to either worker, to phones registered at either.
    for (const [i, { e, phone }] of registered.entries()) {
      // A busy callee: the proxy ACKs its 486 (hop by hop) and the caller gets one 486.
      const busyId = callIdOf(i % WORKERS);
      const busy = invite(caller, e, busyId, `z9hG4bK-${token()}`);
      caller.send(busy);
      const offered = await phone.next(isInviteOf(busyId), 5_000);
      const fromBusy = phone.got.length;
      phone.send(answerTo(offered, "486 Busy Here"), sipPort);
      const ack = await phone.next(
        (m) => m.startsWith("ACK ") && headerValue(m, "Call-ID") === busyId,
        5_000,
        fromBusy,
      );
      expect(headerValue(ack, "CSeq")).toBe("1 ACK");
      const final = await caller.next(
        (m) => m.startsWith("SIP/2.0 486") && headerValue(m, "Call-ID") === busyId,
      );
      caller.send(sameTransaction(busy, "ACK", headerValue(final, "To")));
      // No INVITE sent again after the 486: the worker holding the transaction saw it.
      const again = await phone.quiet(600);
      expect(again.filter(isInviteOf(busyId))).toEqual([]);

      // A CANCEL reaches the worker holding its INVITE: 200 to the caller, CANCEL to the callee.
      const canceledId = callIdOf((i + 1) % WORKERS);
      const ringing = invite(caller, e, canceledId, `z9hG4bK-${token()}`);
      caller.send(ringing);
      const offer = await phone.next(isInviteOf(canceledId), 5_000);
      const tag = token(4);
      phone.send(answerTo(offer, "180 Ringing", tag), sipPort);
      await caller.next((m) => m.startsWith("SIP/2.0 180") && headerValue(m, "Call-ID") === canceledId);
      caller.send(sameTransaction(ringing, "CANCEL"));
      const canceled = await caller.next(
        (m) => headerValue(m, "CSeq") === "1 CANCEL" && headerValue(m, "Call-ID") === canceledId,
      );
      expect(firstLine(canceled)).toBe("SIP/2.0 200 OK");
      const cancel = await phone.next(
        (m) => m.startsWith("CANCEL ") && headerValue(m, "Call-ID") === canceledId,
      );
      phone.send(answerTo(cancel, "200 OK", tag), sipPort);
      phone.send(answerTo(offer, "487 Request Terminated", tag), sipPort);
      const ended = await caller.next(
        (m) => m.startsWith("SIP/2.0 487") && headerValue(m, "Call-ID") === canceledId,
      );
      caller.send(sameTransaction(ringing, "ACK", headerValue(ended, "To")));
    }
  }, 120_000);

  it("connects real phones (baresip, UDP) through the workers, four calls in a row, established and hung up", async () => {
    const [a, b] = [await extension(), await extension()];
    const account = (e: Ext) => ({
      ext: e.ext,
      password: e.password,
      domain,
      sipPort,
      transport: "udp" as const,
    });
    const caller = await startBaresip(phones, { ...account(a), label: "caller" });
    const callee = await startBaresip(phones, { ...account(b), answermode: "auto", label: "callee" });
    await phones.explain(async () => {
      // Each read may land on either worker (the cluster deals connections round-robin), and a
      // worker hears of the other's bindings within a second (CONTRACT §15): wait until two
      // rounds of reads, so both workers, see both phones.
      const bothSeen = async () => {
        for (const e of [a, b, a, b]) if ((await contactsOf(e)).length === 0) return false;
        return true;
      };
      for (let i = 0; i < 40 && !(await bothSeen()); i++) await sleep(250);
      // Reads on a kept-alive connection may all have gone to one worker (seen in CI: the next
      // read, on the other, found nothing yet): the contract's bound for the other to hear of a
      // binding is 1 s, so every worker knows both phones once it has passed.
      await sleep(1_000);
      expect((await contactsOf(b)).length).toBe(1);
      for (let call = 0; call < 4; call++) {
        await caller.command("dial", `sip:${b.ext}@${domain}`);
        const out = await caller.event("CALL_ESTABLISHED", (ev) => ev.direction === "outgoing", 15_000);
        await callee.event(
          "CALL_ESTABLISHED",
          (ev) => ev.direction === "incoming" && ev.id === out.id,
          15_000,
        );
        await caller.command("hangup");
        const closed = await callee.event("CALL_CLOSED", (ev) => ev.id === out.id, 15_000);
        expect(closed.param).toBe("Connection reset by peer");
        await caller.event("CALL_CLOSED", (ev) => ev.id === out.id, 15_000);
      }
    });
  }, 180_000);

  it("a worker killed with kill -9 is started again; its phones register meanwhile and nothing stored is lost", async () => {
    expect(registered.length, "the phones of the first test").toBe(4);
    const [pid] = servingPids(0);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, "SIGKILL");
    // The primary tells the other worker at once (a phone's retransmission 500 ms later would
    // cover the moment in between; this one does not retransmit).
    await served.waitFor(/worker died: starting it again/, 30_000);
    // While it is down, its phones are answered: their datagrams are handled where they land.
    for (const { phone, slot } of registered) {
      if (slot === 0) expect(firstLine(await phone.registerWithDigest())).toBe("SIP/2.0 200 OK");
    }
    expect(servingPids(0).length).toBe(1);
    for (let i = 0; i < 1200 && servingPids(0).length < 2; i++) await sleep(100);
    expect(servingPids(0).length).toBe(2);
    // Every extension and binding is still there, whichever worker answers.
    for (const { e, phone } of registered) {
      const got = await api.get(`/v1.0/extensions/${e.id}`);
      expect(got.status).toBe(200);
      for (let i = 0; i < 4; i++) expect(await contactsOf(e)).toEqual([phone.contact]);
      expect(firstLine(await phone.registerWithDigest())).toBe("SIP/2.0 200 OK");
    }
  }, 180_000);

  it("SIGTERM to the primary stops every worker and exits 0", async () => {
    const pids = [...servingPids(0), ...servingPids(1)];
    const ran = await served.stop();
    expect(ran.code, ran.stderr).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});
