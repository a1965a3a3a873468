import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AccessKeyService } from "../domain/accesskeys.js";
import type { AuditService } from "../domain/audit.js";
import type { AuthService } from "../domain/auth.js";
import type { CallService } from "../domain/calls.js";
import type { ContactService } from "../domain/contacts.js";
import type { EventService } from "../domain/events.js";
import type { ExtensionService } from "../domain/extensions.js";
import type { ProvisioningService } from "../domain/provisioning.js";
import type { SipBanService } from "../domain/sip-bans.js";
import type { TenantService } from "../domain/tenants.js";
import type { WebhookService } from "../domain/webhooks.js";
import type { LoginThrottle } from "./login-throttle.js";

/** What the HTTP layer may call: domain services only, never stores. */
export interface ApiServices {
  auth: AuthService;
  tenants: TenantService;
  accessKeys: AccessKeyService;
  extensions: ExtensionService;
  contacts: ContactService;
  sipBans: SipBanService;
  events: EventService;
  calls: CallService;
  webhooks: WebhookService;
  provisioning: ProvisioningService;
  audit: AuditService;
}

/** A route file: a Fastify plugin given the services (and the login throttle, for /auth/login). */
export type Routes = FastifyPluginAsyncTypebox<{
  services: ApiServices;
  loginThrottle?: LoginThrottle;
  /** told of each failed login (CONTRACT §12: sipext_auth_failures_total{kind="login"}) */
  onLoginFailed?: () => void;
}>;
