import { parseArgs } from "node:util";
import { DataDirLockedError } from "../../store/data-dir-lock.js";
import { startModelplane } from "../../main.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be 0–65535, got '${value}'`);
  return port;
}

export const serveCommand: CliCommand = {
  name: "serve",
  summary: "run the engine: management API, data plane, replicas and promotions on one port",
  usage: "modelplane serve [--port 7070] [--host 127.0.0.1] [--data-dir ./.modelplane] [--database-url postgres://…]",
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          port: { type: "string" },
          host: { type: "string" },
          "data-dir": { type: "string" },
          "database-url": { type: "string" },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const databaseUrl = values["database-url"] ?? process.env.MODELPLANE_DATABASE_URL;
    let engine;
    try {
      engine = await startModelplane({
        port: values.port !== undefined ? parsePort(values.port) : 7070,
        host: values.host ?? "127.0.0.1",
        dataDir: values["data-dir"] ?? process.env.MODELPLANE_DATA_DIR ?? "./.modelplane",
        ...(databaseUrl ? { databaseUrl } : {}),
        showGeneratedApiKey: process.stderr.isTTY === true,
      });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      process.stderr.write(`modelplane: ${error instanceof DataDirLockedError ? error.message : String((error as Error).stack ?? error)}\n`);
      return 1;
    }
    // the one line scripts and tests wait for
    process.stdout.write(`modelplane engine listening on ${engine.url}\n`);
    const running = engine;
    return new Promise<number>((resolveExit) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`modelplane: ${signal}, shutting down\n`);
        running.close().then(
          () => resolveExit(0),
          (error: unknown) => {
            process.stderr.write(`modelplane: shutdown failed: ${String(error)}\n`);
            resolveExit(1);
          },
        );
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
  },
};
