/**
 * The first open of a PGlite data directory, in a process of its own (pglite-first-open.ts starts
 * it): PGlite's initdb runs a second PostgreSQL instance in WebAssembly beside the first, with a
 * memory of its own, and copies its files over. Done in the engine's database thread, that left
 * the engine ~100 MiB above an engine that opened an existing directory, for as long as it ran
 * (standalone: 404 vs 306–328 MiB after the same writes; bench/scale). A process that exits gives
 * all of it back; a terminated worker thread did not (~200 MiB stayed in the engine's process).
 *
 * Loaded straight from its TypeScript source by Node's type stripping when the engine
 * runs from source (tests): erasable syntax only, no local imports.
 */
import { PGlite } from "@electric-sql/pglite";

/** The process's arguments: the data directory, and the JSON array of PostgreSQL settings the database thread starts with. */
export type InitdbArguments = [pgdata: string, settingsJson: string];

const [pgdata, settings] = process.argv.slice(2) as Partial<InitdbArguments>;
if (pgdata === undefined || settings === undefined) throw new Error("usage: pglite-initdb-process <pgdata> <settings JSON>");
const db = await PGlite.create(pgdata, { startParams: [...PGlite.defaultStartParams, ...(JSON.parse(settings) as string[])] });
await db.close();
