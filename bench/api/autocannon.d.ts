// The part of autocannon 8's programmatic API that the load worker uses (the package ships no types).
declare module "autocannon" {
  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    [key: string]: unknown;
  }

  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    timeout?: number;
    requests?: Array<Request & { setupRequest?: (req: Request, context: object) => Request }>;
  }

  export interface Result {
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
    latency: { p50: number; p99: number };
    requests: { average: number; total: number };
  }

  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
