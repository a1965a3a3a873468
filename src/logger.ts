import pino, { type DestinationStream, type Logger } from "pino";
import { redactUrl } from "./api/app.js";

interface LoggedRequest {
  method?: string;
  url?: string;
  id?: string;
  ip?: string;
}

/**
 * pino with serializers that keep secrets out: query credentials are redacted from URLs, and
 * headers (Authorization, Cookie) and bodies are never logged.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
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
    destination,
  );
}
