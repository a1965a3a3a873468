// The customer's webhook, VoIPbin's way (CONTRACT §11): PUT /v1.0/customer sets webhook_method and
// webhook_uri (and name, detail, email), the secret is drawn by webhook-secret-regenerate and shown
// only in that answer (stored sealed like extension passwords), and the delivery log is listed
// newest first. Delivering is webhooks-worker.ts's job; this side tells it of every change.
import type { Page, PageQuery } from "../contract/common.js";
import { type Customer, EMAIL_MAX, type UpdateCustomerBody } from "../contract/customer.js";
import { WEBHOOK_SECRET_PREFIX, type WebhookDelivery, type WebhookSecret } from "../contract/webhook.js";
import type { CustomerPatch, WebhookDeliveryRow, WebhookStore } from "../store/webhooks.js";
import { type Clock, formatMicros } from "../util/time.js";
import { checkNameAndDetail } from "./check-text.js";
import { invalidArgument, notFound } from "./errors.js";
import { parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";
import { randomSecret, type Sealer } from "./secrets.js";
import { customerView } from "./tenants.js";
import { checkWebhookUri, type LookupAll, lookupAll } from "./webhooks-target.js";

export interface WebhookServiceDeps {
  store: WebhookStore;
  sealer: Sealer;
  clock: Clock;
  /** SIPEXT_WEBHOOK_ALLOW_PRIVATE */
  allowPrivate: boolean;
  /** told the customer whose webhook changed (this node's worker retries at once) */
  onChanged?: Array<(customerId: string) => void>;
  resolve?: LookupAll;
}

const EMAIL_RE = /^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/;
const WEBHOOK_METHODS: readonly string[] = ["POST", "PUT", ""];

export const deliveryView = (r: WebhookDeliveryRow): WebhookDelivery => ({
  id: r.id,
  customer_id: r.customer_id,
  event_id: r.event_id,
  event_seq: Number(r.event_seq),
  type: r.type,
  status: r.status as WebhookDelivery["status"],
  http_status: Number(r.http_status),
  error: r.error,
  tm_create: r.tm_create,
});

export function webhookService(deps: WebhookServiceDeps) {
  const { store, sealer, clock, allowPrivate, onChanged = [], resolve = lookupAll } = deps;
  const told = (customerId: string) => {
    for (const fn of onChanged) fn(customerId);
  };
  return {
    /** PUT /v1.0/customer: an omitted field keeps its value. */
    async updateCustomer(p: Principal, input: UpdateCustomerBody): Promise<Customer> {
      requireRole(p, ["admin"]);
      checkNameAndDetail(input);
      const { email, webhook_method, webhook_uri } = input;
      if (email !== undefined && email !== "" && (email.length > EMAIL_MAX || !EMAIL_RE.test(email)))
        throw invalidArgument(
          "email",
          `must be an address like name@example.com, got "${email.slice(0, 64)}"`,
        );
      if (webhook_method !== undefined && !WEBHOOK_METHODS.includes(webhook_method))
        throw invalidArgument("webhook_method", 'must be "POST", "PUT" or ""');
      if (webhook_uri !== undefined && webhook_uri !== "")
        await checkWebhookUri(webhook_uri, allowPrivate, resolve);
      const patch: CustomerPatch = { tm_update: formatMicros(clock()) };
      if (input.name !== undefined) patch.name = input.name;
      if (input.detail !== undefined) patch.detail = input.detail;
      if (email !== undefined) patch.email = email;
      if (webhook_method !== undefined) patch.webhook_method = webhook_method;
      if (webhook_uri !== undefined) patch.webhook_uri = webhook_uri;
      const row = await store.updateCustomer(p.customerId, patch);
      if (!row) throw notFound("customer");
      if (webhook_method !== undefined || webhook_uri !== undefined) told(p.customerId);
      return customerView(row);
    },

    /** A new signing secret, in force at once; this answer is the only place it is shown. */
    async regenerateSecret(p: Principal): Promise<WebhookSecret> {
      requireRole(p, ["admin"]);
      const secret = `${WEBHOOK_SECRET_PREFIX}${randomSecret(32)}`;
      if (!(await store.setSecret(p.customerId, sealer.seal(secret), formatMicros(clock()))))
        throw notFound("customer");
      told(p.customerId);
      return { webhook_secret: secret };
    },

    /** The customer's delivery attempts, newest first. */
    async deliveries(p: Principal, q: PageQuery): Promise<Page<WebhookDelivery>> {
      requireRole(p, ["admin", "manager"]);
      return toPage(
        await store.listDeliveries(p.customerId, parsePage(q.page_size, q.page_token)),
        deliveryView,
      );
    },
  };
}

export type WebhookService = ReturnType<typeof webhookService>;
