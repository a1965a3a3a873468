import { Type } from "@sinclair/typebox";
import { LoginBody, LoginReply } from "../../contract/user.js";
import { TOKEN_TTL_S } from "../../domain/auth.js";
import { DomainError } from "../../domain/errors.js";
import { LoginThrottle } from "../login-throttle.js";
import { route } from "../schemas.js";
import type { Routes } from "../services.js";

export const authRoutes: Routes = async (
  app,
  { services, loginThrottle = new LoginThrottle(), onLoginFailed },
) => {
  // Two throttles (CONTRACT §14): per client address (req.ip: behind a trusted proxy, the
  // address it forwarded), and per username, whichever address the guesses come from.
  app.post(
    "/auth/login",
    route(
      ["auth"],
      LoginReply,
      {
        summary: "Log in with username and password; returns a JWT and sets the `token` cookie",
        body: LoginBody,
      },
      { public: true },
    ),
    async (req, reply) => {
      const { username, password } = req.body;
      const wait = loginThrottle.begin(req.ip, username);
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw new DomainError(
          "RESOURCE_EXHAUSTED",
          "TOO_MANY_LOGIN_FAILURES",
          `too many failed logins: retry in ${wait} s`,
        );
      }
      let result: LoginReply;
      try {
        result = await services.auth.login(username, password);
      } catch (err) {
        loginThrottle.failed(req.ip, username);
        onLoginFailed?.();
        throw err;
      }
      loginThrottle.succeeded(username);
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
  app.post(
    "/auth/logout",
    route(
      ["auth"],
      Type.Object({}),
      {
        summary: "Log out: clears the `token` cookie (a JWT held elsewhere stays valid until it expires)",
      },
      { public: true },
    ),
    async (req, reply) => {
      reply.clearCookie("token", {
        httpOnly: true,
        sameSite: "strict",
        path: "/",
        secure: req.protocol === "https",
      });
      return {};
    },
  );
};
