// Preact + htm: components as tagged templates, no JSX and so no build step. The engine serves
// both libraries from its node_modules (engine/console/console-files.ts).
import { h, render } from "./vendor/preact.js";
import htm from "./vendor/htm.js";

export const html = htm.bind(h);
export { render };
export { useCallback, useEffect, useMemo, useRef, useState } from "./vendor/hooks.js";
