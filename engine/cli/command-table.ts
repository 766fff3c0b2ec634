/** Every `modelplane` command, in the order `modelplane --help` lists them. */
import { deployCommand } from "./commands/deploy.js";
import { deploymentsCommand } from "./commands/deployments.js";
import { devCommand } from "./commands/dev.js";
import { environmentsCommand } from "./commands/environments.js";
import { modelsCommand } from "./commands/models.js";
import { predictCommand } from "./commands/predict.js";
import { promoteCommand } from "./commands/promote.js";
import { promotionActionCommands } from "./commands/promotion-actions.js";
import type { CliCommand } from "./usage-error.js";

/**
 * `serve` loads the whole engine (store, runtime, router): about 0.3 s of imports that the client
 * commands do not need, so it is imported only when run. Its summary and usage are repeated here;
 * test/cli checks they match serve.ts.
 */
export const serveEntry: CliCommand = {
  name: "serve",
  summary: "run the engine: management API, data plane, replicas and promotions on one port",
  usage:
    "modelplane serve [--port 7070] [--host 127.0.0.1] [--data-dir ./.modelplane] [--database-url postgres://…] [--readiness-timeout 60]\n" +
    "                 [--runtime process|kubernetes] [--kubeconfig PATH] [--namespace NS] [--image-pull-policy IfNotPresent|Always|Never]",
  help: [
    "  --readiness-timeout S  a starting replica must answer 200 on its readiness path within S seconds (default 60),",
    "                         else it is replaced; a deployment fails after 3 such starts in a row (about 3 × S)",
    "  --runtime kubernetes   replicas as pods (deployments with an image); default: process (deployments with a command)",
    "  --kubeconfig PATH      default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config",
    "  --namespace NS         where the replica sets' Deployments go; default: the pod's, else the kubeconfig context's",
    "  --image-pull-policy P  Never for images imported on the nodes without a registry; default IfNotPresent",
  ].join("\n"),
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
  predictCommand,
  devCommand,
];

