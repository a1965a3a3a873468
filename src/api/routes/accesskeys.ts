import {
  AccessKey,
  CreateAccessKeyBody,
  CreatedAccessKey,
  UpdateAccessKeyBody,
} from "../../contract/access-key.js";
import { Page, PageQuery } from "../../contract/common.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const accessKeyRoutes: Routes = async (app, { services }) => {
  const keys = services.accessKeys;
  const tags = ["accesskeys"];
  app.post(
    "/accesskeys",
    route(tags, CreatedAccessKey, {
      summary: "Create an access key; the token is in this answer only",
      body: CreateAccessKeyBody,
    }),
    (req) => keys.create(principalOf(req), req.body),
  );
  app.get(
    "/accesskeys",
    route(tags, Page(AccessKey), {
      summary: "The customer's access keys, newest first (never their tokens)",
      querystring: PageQuery,
    }),
    (req) => keys.list(principalOf(req), req.query),
  );
  app.get(
    "/accesskeys/:id",
    route(tags, AccessKey, { summary: "One access key (a deleted one has tm_delete set)", params: IdParams }),
    (req) => keys.get(principalOf(req), req.params.id),
  );
  app.put(
    "/accesskeys/:id",
    route(tags, AccessKey, {
      summary: "Change an access key's name or detail",
      params: IdParams,
      body: UpdateAccessKeyBody,
    }),
    (req) => keys.update(principalOf(req), req.params.id, req.body),
  );
  app.delete(
    "/accesskeys/:id",
    route(tags, AccessKey, { summary: "Delete an access key: it stops working at once", params: IdParams }),
    (req) => keys.remove(principalOf(req), req.params.id),
  );
};
