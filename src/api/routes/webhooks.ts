// The customer's webhook (CONTRACT §11): PUT /v1.0/customer (webhook_method, webhook_uri, name,
// detail, email), the secret drawn and shown once, and the log of delivery attempts.
import { Page, PageQuery } from "../../contract/common.js";
import { Customer, UpdateCustomerBody } from "../../contract/customer.js";
import { WebhookDelivery, WebhookSecret } from "../../contract/webhook.js";
import { principalOf } from "../plugins/auth.js";
import { route } from "../schemas.js";
import type { Routes } from "../services.js";

export const webhookRoutes: Routes = async (app, { services }) => {
  const hooks = services.webhooks;
  app.put(
    "/customer",
    route(["identity"], Customer, {
      summary:
        "Change the caller's customer: its webhook, name, detail, email; an omitted field keeps its value",
      body: UpdateCustomerBody,
    }),
    (req) => hooks.updateCustomer(principalOf(req), req.body),
  );
  app.post(
    "/customer/webhook-secret-regenerate",
    route(["webhooks"], WebhookSecret, {
      summary:
        "Draw a new webhook signing secret, in force at once; this answer is the only place it is shown",
    }),
    (req) => hooks.regenerateSecret(principalOf(req)),
  );
  app.get(
    "/webhook-deliveries",
    route(["webhooks"], Page(WebhookDelivery), {
      summary: "The customer's webhook delivery attempts, newest first",
      querystring: PageQuery,
    }),
    (req) => hooks.deliveries(principalOf(req), req.query),
  );
};
