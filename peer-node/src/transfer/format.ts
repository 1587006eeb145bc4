// Numbers in sentences for people (transfer errors, refusals).

/** "1.5 GB"-style size (decimal units, like file managers show). */
export function formatBytes(n: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB", "PB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}
