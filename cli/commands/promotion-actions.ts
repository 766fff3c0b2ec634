/**
 * Actions on an environment's promotion: pause, resume, cancel, force-cancel, force-roll-forward,
 * rollback. Each prints the resulting promotion; those whose effect takes time accept `--wait`.
 */
import type { ModelplaneClient } from "../../sdk/client.js";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import { connect, namedPositionals, parseCommandLine, parseSeconds } from "../command-line.js";
import { resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";
import { reportPromotion, WAIT_HELP, WAIT_OPTIONS } from "./promote.js";

type EnvironmentParams = { model_id: string; env_name: string };

interface PromotionAction {
  name: string;
  summary: string;
  /** the end `--wait` waits for; undefined: the action's result is already final, no `--wait` */
  waitsFor?: "SUCCEEDED" | "CANCELED";
  /** takes `--timeout S` (a new promotion is started) */
  startsPromotion?: boolean;
  call(client: ModelplaneClient, params: EnvironmentParams, timeoutSeconds: number | undefined): Promise<Promotion>;
}

function actionCommand(action: PromotionAction): CliCommand {
  const waitFlags = action.waitsFor ? ` [--wait]${action.startsPromotion ? " [--timeout S]" : ""}` : "";
  return {
    name: action.name,
    summary: action.summary,
    usage: `modelplane ${action.name} <model> <env>${waitFlags} [--json]`,
    ...(action.waitsFor ? { help: WAIT_HELP } : {}),
    async run(args) {
      const { values, positionals } = parseCommandLine(args, WAIT_OPTIONS);
      const { model, env } = namedPositionals(positionals, ["model", "env"]);
      if (values.wait && !action.waitsFor) throw new UsageError(`--wait: ${action.name} takes effect at once, there is nothing to wait for`);
      if (values.timeout !== undefined && !action.startsPromotion) throw new UsageError(`--timeout only applies to a promotion ${action.name} would start`);
      const timeoutSeconds = values.timeout !== undefined ? parseSeconds("--timeout", values.timeout) : undefined;
      const client = connect(values);
      const modelId = await resolveModelId(client, model);
      const promotion = await action.call(client, { model_id: modelId, env_name: env }, timeoutSeconds);
      return reportPromotion(client, modelId, promotion, {
        wait: values.wait === true,
        json: values.json === true,
        timeoutSeconds,
        expectedStatus: action.waitsFor ?? "SUCCEEDED",
      });
    },
  };
}

export const promotionActionCommands: readonly CliCommand[] = [
  actionCommand({
    name: "pause",
    summary: "pause the in-progress promotion between steps (traffic split held)",
    call: (client, params) => client.call("pausePromotion", { params }),
  }),
  actionCommand({
    name: "resume",
    summary: "resume a paused promotion",
    waitsFor: "SUCCEEDED",
    call: (client, params) => client.call("resumePromotion", { params }),
  }),
  actionCommand({
    name: "approve",
    summary: "pass the promotion's manual gate (confirm_promotion): the candidate may get all the traffic",
    waitsFor: "SUCCEEDED",
    call: (client, params) => client.call("approvePromotion", { params }),
  }),
  actionCommand({
    name: "cancel",
    summary: "cancel the promotion: ramp traffic back gracefully (rolling) or at once",
    waitsFor: "CANCELED",
    call: (client, params) => client.call("cancelPromotion", { params }),
  }),
  actionCommand({
    name: "force-cancel",
    summary: "return all traffic to the previous deployment now",
    call: (client, params) => client.call("forceCancelPromotion", { params }),
  }),
  actionCommand({
    name: "force-roll-forward",
    summary: "complete the promotion now, all traffic to the candidate",
    waitsFor: "SUCCEEDED",
    call: (client, params) => client.call("forceRollForwardPromotion", { params }),
  }),
  actionCommand({
    name: "rollback",
    summary: "promote the environment's previous deployment again",
    waitsFor: "SUCCEEDED",
    startsPromotion: true,
    call: (client, params, timeoutSeconds) =>
      client.call("rollback", { params, body: timeoutSeconds !== undefined ? { timeout_seconds: timeoutSeconds } : {} }),
  }),
];
