import type { AccessKeyService } from "../domain/accesskeys.js";
import type { AuthService } from "../domain/auth.js";
import type { ContactService } from "../domain/contacts.js";
import type { ExtensionService } from "../domain/extensions.js";
import type { TenantService } from "../domain/tenants.js";

/** What the HTTP layer may call: domain services only, never stores. */
export interface ApiServices {
  auth: AuthService;
  tenants: TenantService;
  accessKeys: AccessKeyService;
  extensions: ExtensionService;
  contacts: ContactService;
}
