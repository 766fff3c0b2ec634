import { request } from "undici";
import { startEngine, type RunningEngine } from "../../engine/engine.js";

/** A real engine on a free port plus a tiny JSON caller for API tests. */
export interface TestEngine {
  engine: RunningEngine;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  // tests index freely into bodies; the API's schemas are tested separately
  body: any;
  text: string;
}

export const TEST_API_KEY = "test-key-0123456789";

export async function startTestEngine(options: { dataDir: string; databaseUrl?: string }): Promise<TestEngine> {
  const engine = await startEngine({
    port: 0,
    dataDir: options.dataDir,
    apiKey: TEST_API_KEY,
    log: () => {},
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  });
  return {
    engine,
    async call(method, path, body, headers = {}) {
      const response = await request(`${engine.url}${path}`, {
        method: method as "GET",
        headers: {
          authorization: `Api-Key ${TEST_API_KEY}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
      const text = await response.body.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.statusCode, body: parsed, text };
    },
    close: () => engine.close(),
  };
}
