// Must NOT typecheck: proves the consumer test really checks against modelplane's types.
import { Model } from "modelplane";

new Model("m", { nmae: "typo" });
