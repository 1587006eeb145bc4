import jsQR from "jsqr";
import { describe, expect, it } from "vitest";
import { qrImage, type QrImage } from "./qr.js";

/** Paints the SVG path's unit squares into RGBA pixels, `scale` pixels a module, as a screen would. */
function rasterize(image: QrImage, scale: number): Uint8ClampedArray {
  const width = image.size * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const [, x, y, run] of image.path.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    for (let dx = 0; dx < Number(run) * scale; dx += 1) {
      for (let dy = 0; dy < scale; dy += 1) {
        const offset = ((Number(y) * scale + dy) * width + Number(x) * scale + dx) * 4;
        pixels.fill(0, offset, offset + 3);
      }
    }
  }
  return pixels;
}

describe("qrImage", () => {
  it("draws a share link as a square QR code with its three finder patterns", () => {
    const link = `http://127.0.0.1:7001/#/get/${"a".repeat(64)}`;
    const image = qrImage(link);
    // 93 bytes at level M: version 6 (41 modules; version 5 holds 84), plus 2 quiet modules a side.
    expect(image.size).toBe(41 + 4);
    // Each finder pattern starts with a run of 7 dark modules on its top row.
    expect(image.path).toContain("M2 2h7v1h-7z");
    expect(image.path).toContain(`M${image.size - 2 - 7} 2h7v1h-7z`);
    expect(image.path).toContain(`M2 ${image.size - 2 - 7}h7v1h-7z`);
  });

  it("reads back as the same link in a QR decoder", () => {
    const link = `http://192.168.1.20:7001/#/get/${"3f9a2c81d0e4".padEnd(64, "7")}`;
    const image = qrImage(link);
    const scale = 4;
    const decoded = jsQR(rasterize(image, scale), image.size * scale, image.size * scale);
    expect(decoded?.data).toBe(link);
  });

  it("grows with the text and changes with it", () => {
    expect(qrImage("short").size).toBeLessThan(qrImage("x".repeat(300)).size);
    expect(qrImage("a").path).not.toBe(qrImage("b").path);
  });
});
