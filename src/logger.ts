import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import { redactUrl } from "./api/app.js";

interface LoggedRequest {
  method?: string;
  url?: string;
  id?: string;
  ip?: string;
}

/**
 * pino with serializers that keep secrets out: query credentials are redacted from URLs, and
 * headers (Authorization, Cookie) and bodies are never logged. `pretty` (SIPEXT_LOG_FORMAT) writes
 * the same records as readable lines for a terminal, in this thread (no worker), to `destination`
 * or stdout.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  format: "json" | "pretty" = "json",
): Logger {
  const out =
    format === "pretty"
      ? pretty({
          colorize: destination === undefined && process.stdout.isTTY === true,
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "pid,hostname",
          sync: true,
          ...(destination ? { destination } : {}),
        })
      : destination;
  return pino(
    {
      level,
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: redactUrl(req.url ?? ""),
          id: req.id,
          ip: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    out,
  );
}
