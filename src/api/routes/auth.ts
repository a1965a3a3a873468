import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { TOKEN_TTL_S } from "../../domain/auth.js";
import { LoginBody, LoginReply, withErrors } from "../schemas.js";
import type { ApiServices } from "../services.js";

export const authRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (app, { services }) => {
  app.post(
    "/auth/login",
    {
      schema: {
        tags: ["auth"],
        summary: "Log in with username and password; returns a JWT and sets the `token` cookie",
        body: LoginBody,
        response: withErrors({ 200: LoginReply }),
      },
    },
    async (req, reply) => {
      const result = await services.auth.login(req.body.username, req.body.password);
      reply.setCookie("token", result.token, {
        httpOnly: true,
        sameSite: "strict",
        path: "/",
        maxAge: TOKEN_TTL_S,
        secure: req.protocol === "https",
      });
      return result;
    },
  );
};
