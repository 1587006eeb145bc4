import qrcode from "qrcode-generator";

/** A QR code as an SVG path over a square of `size` modules (the quiet zone included). */
export interface QrImage {
  size: number;
  path: string;
}

/** Modules of light border around the code that readers need to find it. */
const QUIET_ZONE_MODULES = 2;

/**
 * Encodes text (a share link) as a QR code, error correction level M (readable with ~15% of it
 * smudged or glared on a screen), the smallest version that fits. One path of unit squares, runs of
 * dark modules merged, so it renders crisp at any size and takes its colour from `currentColor`.
 */
export function qrImage(text: string): QrImage {
  const code = qrcode(0, "M");
  code.addData(text, "Byte");
  code.make();
  const count = code.getModuleCount();
  const parts: string[] = [];
  for (let row = 0; row < count; row += 1) {
    let col = 0;
    while (col < count) {
      if (!code.isDark(row, col)) {
        col += 1;
        continue;
      }
      const start = col;
      while (col < count && code.isDark(row, col)) col += 1;
      parts.push(`M${start + QUIET_ZONE_MODULES} ${row + QUIET_ZONE_MODULES}h${col - start}v1h${start - col}z`);
    }
  }
  return { size: count + 2 * QUIET_ZONE_MODULES, path: parts.join("") };
}
