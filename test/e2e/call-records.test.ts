// Call records (CONTRACT §13) and the events of registrations and calls (§11), from real SIP
// traffic: bare UDP phones register, call and hang up through sipext; the API then shows the
// call with its result, and the event feed tells each step, in order, with no secret in it.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Call } from "../../src/contract/call.js";
import type { Event, EventPage } from "../../src/contract/event.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { token } from "../sip/raw-sip.js";
import { answerTo, firstLine, headerValue, headerValues, RawPhone } from "./raw-phone.js";

interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

const isInvite = (m: string) => m.startsWith("INVITE ");

describe.each(DATABASES)("call records and events on %s", (kind) => {
  let h: Harness;
  let api: Client;
  const phones: RawPhone[] = [];

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    for (const p of phones) await p.close();
    await stopHarness(h);
  });

  async function extension(): Promise<Ext> {
    const ext = `c${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const res = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status).toBe(200);
    return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
  }

  async function phone(e: Ext): Promise<RawPhone> {
    const p = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext: e.ext,
      password: e.password,
    });
    phones.push(p);
    return p;
  }

  async function events(after: number, type?: string): Promise<Event[]> {
    const q = `/v1.0/events?after=${after}${type ? `&type=${type}` : ""}`;
    return (await api.get<EventPage>(q)).body.result;
  }
  const latestSeq = async () => {
    const all = await api.get<EventPage>("/v1.0/events?after=0&page_size=100");
    let last = Number(all.body.next_page_token);
    for (let page = all.body.result; page.length === 100; ) {
      page = (await api.get<EventPage>(`/v1.0/events?after=${last}`)).body.result;
      last = page.at(-1)?.seq ?? last;
    }
    return last;
  };

  /** A call from a bare phone to `uri`, delivered to `callee`; returns the INVITE the callee got. */
  async function call(caller: RawPhone, callee: RawPhone, uri: string) {
    const text = [
      `INVITE ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
      "Max-Forwards: 70",
      "From: <sip:someone@example.net>;tag=f1",
      `To: <${uri}>`,
      `Call-ID: ${token()}@records`,
      "CSeq: 1 INVITE",
      `Contact: <sip:someone@127.0.0.1:${caller.port}>`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    const from = callee.got.length;
    caller.send(text);
    return { invite: await callee.next(isInvite, 3_000, from), text };
  }

  it("a registration, its refresh and its removal tell extension_registered once and extension_unregistered (device)", async () => {
    const e = await extension();
    const after = await latestSeq();
    const p = await phone(e);
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK"); // a refresh: no event
    expect(firstLine(await p.registerWithDigest(["Expires: 0"]))).toBe("SIP/2.0 200 OK");
    let got: Event[] = [];
    for (let i = 0; i < 100 && got.length < 2; i++) {
      got = (await events(after, "extension_registered,extension_unregistered")).filter(
        (ev) => (ev.data as { extension_id: string }).extension_id === e.id,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(got.map((ev) => ev.type)).toEqual(["extension_registered", "extension_unregistered"]);
    expect(got[0]?.data).toMatchObject({ uri: p.contact, transport: "UDP", extension_id: e.id });
    expect(got[1]?.data).toMatchObject({ uri: p.contact, reason: "device" });
    expect(JSON.stringify(got)).not.toContain(e.password);
    // seq strictly increasing
    expect(got[1]?.seq).toBeGreaterThan(got[0]?.seq ?? Number.POSITIVE_INFINITY);
  });

  it("wrong passwords tell extension_auth_failed once per extension and source per minute, without a secret", async () => {
    const e = await extension();
    const after = await latestSeq();
    const guesser = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext: e.ext,
      password: "not-the-password",
    });
    phones.push(guesser);
    for (let i = 0; i < 3; i++)
      expect(firstLine(await guesser.registerWithDigest())).toBe("SIP/2.0 401 Unauthorized");
    let got: Event[] = [];
    for (let i = 0; i < 60 && got.length < 1; i++) {
      got = await events(after, "extension_auth_failed");
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    got = await events(after, "extension_auth_failed");
    expect(got).toHaveLength(1);
    expect(got[0]?.data).toEqual({
      extension_id: e.id,
      extension: e.ext,
      source: "127.0.0.1",
      method: "REGISTER",
    });
  });

  it("force-unregister and deleting the extension tell why the contact went", async () => {
    const e = await extension();
    const p = await phone(e);
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
    await h.server.core.location.flush(); // its extension_registered is written behind
    const after = await latestSeq();
    expect((await api.del(`/v1.0/extensions/${e.id}/contacts`)).status).toBe(200);
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
    // Events are numbered in commit order, and a registration commits behind its 200 (batches of
    // 20 ms): flushed here so that the delete comes after it in the feed too.
    await h.server.core.location.flush();
    expect((await api.del(`/v1.0/extensions/${e.id}`)).status).toBe(200);
    let got: Event[] = [];
    for (let i = 0; i < 100 && got.length < 4; i++) {
      got = (await events(after)).filter((ev) => JSON.stringify(ev.data).includes(e.id));
      await new Promise((r) => setTimeout(r, 50));
    }
    const summary = got.map(
      (ev) =>
        `${ev.type}${(ev.data as { reason?: string }).reason ? `:${(ev.data as { reason: string }).reason}` : ""}`,
    );
    expect(summary).toEqual([
      "extension_unregistered:api",
      "extension_registered",
      "extension_deleted",
      "extension_unregistered:extension_deleted",
    ]);
    const deleted = got[2]?.data as { password: string; tm_delete: string };
    expect(deleted.password).toBe("");
    expect(deleted.tm_delete).not.toBe("");
  });

  it("records a direct call answered and hung up: ringing, answered, ended with its duration, and its three events", async () => {
    const [a, b] = [await extension(), await extension()];
    const callee = await phone(b);
    expect(firstLine(await callee.registerWithDigest())).toBe("SIP/2.0 200 OK");
    const caller = await phone(a);
    const after = await latestSeq();
    const uri = `sip:direct.${b.hash}@${h.config.directDomain}`;
    const { invite } = await call(caller, callee, uri);
    callee.send(answerTo(invite, "200 OK", "cal", [`Contact: <${callee.contact}>`]));
    const ok = await caller.next((m) => m.startsWith("SIP/2.0 200 "));
    await new Promise((r) => setTimeout(r, 30));
    const routes = headerValues(ok, "Record-Route").reverse();
    const bye = [
      `BYE ${callee.contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
      ...routes.map((r) => `Route: ${r}`),
      "Max-Forwards: 70",
      "From: <sip:someone@example.net>;tag=f1",
      `To: ${headerValue(ok, "To")}`,
      `Call-ID: ${headerValue(ok, "Call-ID")}`,
      "CSeq: 2 BYE",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    caller.send(bye);
    callee.send(answerTo(await callee.next((m) => m.startsWith("BYE ")), "200 OK"));
    let record: Call | undefined;
    for (let i = 0; i < 100 && record?.status !== "ended"; i++) {
      const list = await api.get<{ result: Call[] }>(`/v1.0/calls?extension_id=${b.id}`);
      record = list.body.result[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(record).toMatchObject({
      call_id: headerValue(ok, "Call-ID"),
      extension_id: b.id,
      caller_extension_id: "",
      direct: true,
      to_uri: uri,
      status: "ended",
      result: "answered",
      sip_code: 200,
      source: `127.0.0.1:${caller.port}`,
    });
    expect(record?.tm_answer).not.toBe("");
    expect(record?.tm_end).not.toBe("");
    expect(record?.duration_ms).toBeGreaterThanOrEqual(20);
    expect((await api.get<Call>(`/v1.0/calls/${record?.id}`)).body).toEqual(record);
    const got = (await events(after, "call_*")).filter((ev) => (ev.data as Call).id === record?.id);
    expect(got.map((ev) => ev.type)).toEqual(["call_started", "call_answered", "call_ended"]);
    expect(got[2]?.data).toEqual(record);
  });

  it("records a busy callee as busy (486), and a call the caller gave up as canceled", async () => {
    const [a, b] = [await extension(), await extension()];
    const callee = await phone(b);
    expect(firstLine(await callee.registerWithDigest())).toBe("SIP/2.0 200 OK");
    const caller = await phone(a);
    const uri = `sip:direct.${b.hash}@${h.config.directDomain}`;
    const first = await call(caller, callee, uri);
    callee.send(answerTo(first.invite, "486 Busy Here", "busy"));
    await caller.next((m) => m.startsWith("SIP/2.0 486 "));
    // The second call rings; the caller CANCELs it.
    const second = await call(caller, callee, uri);
    callee.send(answerTo(second.invite, "180 Ringing", "ring"));
    await caller.next((m) => m.startsWith("SIP/2.0 180 "));
    caller.send(second.text.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    const cancel = await callee.next((m) => m.startsWith("CANCEL "));
    callee.send(answerTo(cancel, "200 OK", "ring"));
    callee.send(answerTo(second.invite, "487 Request Terminated", "ring"));
    let records: Call[] = [];
    for (let i = 0; i < 100 && records.filter((r) => r.status === "ended").length < 2; i++) {
      records = (await api.get<{ result: Call[] }>(`/v1.0/calls?extension_id=${b.id}`)).body.result;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(records.map((r) => [r.result, r.sip_code, r.status])).toEqual([
      ["canceled", 487, "ended"],
      ["busy", 486, "ended"],
    ]);
  });

  it("shows a customer only its own calls (404 for another's)", async () => {
    const list = await api.get<{ result: Call[] }>("/v1.0/calls");
    const one = list.body.result[0];
    expect(one).toBeDefined();
    const username = `other-${randomBytes(4).toString("hex")}`;
    const password = h.secret(`Other-${randomBytes(6).toString("hex")}`);
    await h.server.core.services.tenants.createTenant({ name: "other", admin: { username, password } });
    const login = await client(h.url).post<{ token: string }>("/auth/login", { username, password });
    const other = client(h.url, h.secret(login.body.token));
    expect((await other.get<{ result: Call[] }>("/v1.0/calls")).body.result).toEqual([]);
    expect((await other.get(`/v1.0/calls/${one?.id}`)).status).toBe(404);
  });
});
