import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { TOKEN_TTL_S } from "../../domain/auth.js";
import { DomainError } from "../../domain/errors.js";
import { FailureWindow } from "../failure-window.js";
import { LoginBody, LoginReply, withErrors } from "../schemas.js";
import type { ApiServices } from "../services.js";

/** Failed logins one client address may make per minute before it hears 429. */
export const LOGIN_FAILURES_PER_MINUTE = 20;

export const authRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (app, { services }) => {
  const failures = new FailureWindow({ limit: LOGIN_FAILURES_PER_MINUTE, windowMs: 60_000 });
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
      const wait = failures.retryAfter(req.ip);
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw new DomainError(
          "RESOURCE_EXHAUSTED",
          "TOO_MANY_LOGIN_FAILURES",
          `too many failed logins: retry in ${wait} s`,
        );
      }
      let result: Awaited<ReturnType<typeof services.auth.login>>;
      try {
        result = await services.auth.login(req.body.username, req.body.password);
      } catch (err) {
        failures.fail(req.ip);
        throw err;
      }
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
