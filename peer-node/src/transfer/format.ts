// Numbers in sentences for people (transfer errors, refusals): the tab and the CLI show these sentences
// as they are, so they use the same units as the rest of what those show (decimal SI, @p2p/units).

export { formatBytes } from "@p2p/units";
