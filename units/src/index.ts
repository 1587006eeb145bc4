// @p2p/units: how sizes, speeds and time left read for a person, shared by the tab and the CLI so that
// both say the same thing in the same units. Other packages import only this module.

export * from "./constants.js";
export { formatBytes, formatDuration, formatRate } from "./sizes.js";
export { SpeedSmoother, type SpeedReading, type SpeedSmootherOptions } from "./speed.js";
