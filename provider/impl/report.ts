/**
 * What the provider tells the person running `pulumi up`, attributed to the resource it is about.
 *
 * A dynamic provider's console.log reaches the engine as the plugin's stdout, a diagnostic with no
 * resource: `pulumi up` shows it on the Stack's row, then every line again under Diagnostics. The
 * engine's Log RPC takes a URN instead, and an *ephemeral* message is only the resource's live
 * status (how pulumi-kubernetes shows its await progress): each progress line appears once, on the
 * `production` row; notes and errors are kept under Diagnostics, under that resource. The
 * dynamic-provider host is started with the engine's address as its one argument, and the
 * resource passes its own URN as an input (dynamic providers are not told it). Without either
 * (an older state, another host) lines go to console.log as before.
 */
import { createRequire } from "node:module";
import type * as EngineRpc from "@pulumi/pulumi/proto/engine_grpc_pb.js";
import type * as EngineProto from "@pulumi/pulumi/proto/engine_pb.js";
import type { Props } from "./resource.js";

export interface ResourceReport {
  /** a step of a long operation: the resource's live status, printed once */
  progress(line: string): Promise<void>;
  /** something to keep in the summary under the resource, e.g. what a delete left in place */
  note(line: string): Promise<void>;
  /** why the operation failed, as an error of the resource */
  error(line: string): Promise<void>;
}

interface EngineLog {
  send(severity: "INFO" | "ERROR", urn: string, message: string, ephemeral: boolean): Promise<void>;
}

let engineLog: EngineLog | null | undefined;

/** The engine's Log service, from the dynamic-provider host's argument; null anywhere else. */
function connectEngineLog(): EngineLog | null {
  const address = process.argv[2];
  if (!address || !/^[\w.-]+:\d+$|^\[[\da-f:]+\]:\d+$/i.test(address)) return null;
  try {
    // @grpc/grpc-js and the generated stubs exactly as @pulumi/pulumi loads them (one grpc copy).
    const fromPulumi = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi/package.json"));
    const grpc = fromPulumi("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
    const rpc = fromPulumi("./proto/engine_grpc_pb.js") as typeof EngineRpc;
    const proto = fromPulumi("./proto/engine_pb.js") as typeof EngineProto;
    const client = new rpc.EngineClient(address, grpc.credentials.createInsecure());
    return {
      send: (severity, urn, message, ephemeral) =>
        new Promise((resolve, reject) => {
          const request = new proto.LogRequest()
            .setSeverity(proto.LogSeverity[severity])
            .setUrn(urn)
            .setMessage(message)
            .setEphemeral(ephemeral);
          client.log(request, (error) => (error ? reject(error) : resolve()));
        }),
    };
  } catch {
    return null;
  }
}

function engine(): EngineLog | null {
  engineLog ??= connectEngineLog();
  return engineLog;
}

/** Reports about the resource whose inputs or outputs are `props` (they carry its `resourceUrn`). */
export function reportFor(props: Props): ResourceReport {
  const urn = typeof props.resourceUrn === "string" && props.resourceUrn.startsWith("urn:pulumi:") ? props.resourceUrn : undefined;
  const send = async (severity: "INFO" | "ERROR", line: string, ephemeral: boolean, fallback: (line: string) => void) => {
    const log = urn ? engine() : null;
    if (log && urn) {
      try {
        return await log.send(severity, urn, line, ephemeral);
      } catch {
        // the engine went away (or refused the URN): the line still reaches the output
      }
    }
    fallback(line);
  };
  return {
    progress: (line) => send("INFO", line, true, console.log),
    note: (line) => send("INFO", line, false, console.log),
    error: (line) => send("ERROR", line, false, console.error),
  };
}
