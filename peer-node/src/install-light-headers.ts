// Imported first by the CLI's entry (cli/main.ts): makes LightHeaders the process's global Headers before
// any other module is evaluated (light-headers.ts says why).
import { installLightHeaders } from "./light-headers.js";

installLightHeaders();
