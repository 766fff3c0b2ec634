import { ProcessRuntime } from "../../../engine/runtime/process/index.js";
import { FAST_RUNTIME_OPTIONS, SENTIMENT_V1, SENTIMENT_V2 } from "./helpers.js";
import { describeRuntimeContract } from "./runtime-contract.js";

const CRASH_SCRIPT = "const line = 'boom: token=' + process.env.LEAKED_TOKEN; console.log(line); console.error(line); process.exit(1)";

describeRuntimeContract("process", {
  create: (inFlight) => new ProcessRuntime({ ...FAST_RUNTIME_OPTIONS, crashLoopThreshold: 2, inFlight }),
  fixtures: {
    model: (version) => ({ kind: "process", command: [process.execPath, version === "v1" ? SENTIMENT_V1 : SENTIMENT_V2] }),
    crashing: () => ({ kind: "process", command: [process.execPath, "-e", CRASH_SCRIPT] }),
  },
});
