import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on `host`: listen on port 0, read the port the kernel
 * chose, close, hand it over. Another process may take it before the replica binds; the runtime
 * detects that (EADDRINUSE in the replica's output) and starts the replica again on a new port.
 */
export function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a probe socket"));
        return;
      }
      const port = address.port;
      server.close(() => resolve(port));
    });
  });
}
