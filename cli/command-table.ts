/** Every `modelplane` command, in the order `modelplane --help` lists them. */
import { deployCommand } from "./commands/deploy.js";
import { deploymentsCommand } from "./commands/deployments.js";
import { devCommand } from "./commands/dev.js";
import { environmentsCommand } from "./commands/environments.js";
import { keysCommand } from "./commands/keys.js";
import { modelsCommand } from "./commands/models.js";
import { predictCommand } from "./commands/predict.js";
import { promoteCommand } from "./commands/promote.js";
import { promotionActionCommands } from "./commands/promotion-actions.js";
import { shadowCommand } from "./commands/shadow.js";
import { serveUsage } from "./serve-usage.js";
import type { CliCommand } from "./usage-error.js";

/**
 * `serve` loads the whole engine (store, runtime, router): about 0.3 s of imports that the client
 * commands do not need, so it is imported only when run; its help text lives in serve-usage.ts,
 * which both import.
 */
export const serveEntry: CliCommand = {
  ...serveUsage,
  async run(args) {
    const { serveCommand } = await import("./commands/serve.js");
    return serveCommand.run(args);
  },
};

/** `modelplane <command> …`. Add a command: a file in commands/ exporting a CliCommand, listed here. */
export const commands: readonly CliCommand[] = [
  serveEntry,
  modelsCommand,
  deploymentsCommand,
  environmentsCommand,
  deployCommand,
  promoteCommand,
  ...promotionActionCommands,
  shadowCommand,
  predictCommand,
  devCommand,
  keysCommand,
];

