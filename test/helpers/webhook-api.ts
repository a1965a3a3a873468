// The API side of the webhook tests: a customer's webhook pointed at the test receiver, a second
// customer, events made by creating extensions, and the delivery log read once it has caught up.
import { expect } from "vitest";
import type { Customer } from "../../src/contract/customer.js";
import type { WebhookDelivery } from "../../src/contract/webhook.js";
import { type Client, client, type Harness } from "./harness.js";
import type { Envelope, Receiver } from "./webhook-receiver.js";

export interface List<T> {
  result: T[];
  next_page_token: string;
}

/** A second customer with its admin logged in. */
export async function otherTenant(h: Harness, name: string): Promise<{ api: Client; customerId: string }> {
  const password = h.secret(`${name}-Pa55word-1`);
  const t = await h.server.core.services.tenants.createTenant({ name, admin: { username: name, password } });
  const login = await client(h.url).post<{ token: string }>("/auth/login", { username: name, password });
  expect(login.status).toBe(200);
  return { api: client(h.url, h.secret(login.body.token)), customerId: t.customer.id };
}

/** Points the caller's webhook at `path` of the receiver, with a new secret the receiver knows. */
export async function hook(
  api: Client,
  h: Harness,
  rx: Receiver,
  path: string,
  method = "POST",
): Promise<void> {
  const put = await api.put<Customer>("/v1.0/customer", {
    webhook_method: method,
    webhook_uri: `${rx.url}${path}`,
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  const secret = await api.post<{ webhook_secret: string }>("/v1.0/customer/webhook-secret-regenerate");
  expect(secret.status).toBe(200);
  rx.secrets.set(path, h.secret(secret.body.webhook_secret));
}

let names = 0;
export async function createExtension(api: Client): Promise<string> {
  const res = await api.post<{ id: string }>("/v1.0/extensions", {
    extension: `wh${++names}`,
    password: "Wh-pass-1234",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.id;
}

/**
 * The newest attempts of the caller's delivery log, once `done` holds for them (the receiver may
 * have its answer a moment before the server has logged it).
 */
export async function logUntil(
  api: Client,
  done: (rows: WebhookDelivery[]) => boolean,
  query = "",
): Promise<WebhookDelivery[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await api.get<List<WebhookDelivery>>(`/v1.0/webhook-deliveries${query}`);
    expect(res.status).toBe(200);
    if (done(res.body.result) || Date.now() > deadline) return res.body.result;
    await new Promise((f) => setTimeout(f, 50));
  }
}

/** The events of `path` the receiver accepted, duplicates of one delivery collapsed. */
export const acceptedEvents = (rx: Receiver, path: string): Envelope[] =>
  rx.accepted(path).map((r) => r.event);
