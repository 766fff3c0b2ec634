// Entry of the root Pulumi.yaml (`main: dist/quickstart/index.js`): with a pulumi-language-nodejs
// host, `pulumi up` calls this default export and its result becomes the stack outputs.
import { declareQuickstart } from "./program.js";

export default async () => declareQuickstart();
