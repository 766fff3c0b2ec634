import { request } from "node:http";

/**
 * One GET of the replica's readiness path; true only for a 200. A fresh connection each time
 * (no keep-alive): a probe must see the replica as a new client would, and an idle pooled
 * connection would delay the replica's graceful shutdown.
 */
export function probeReadiness(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host, port, path, method: "GET", agent: false, headers: { connection: "close" }, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("timeout", () => req.destroy(new Error("readiness probe timed out")));
    req.on("error", () => resolve(false));
    req.end();
  });
}
