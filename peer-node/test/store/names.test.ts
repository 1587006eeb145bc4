import { describe, expect, it } from "vitest";
import { isPeerError } from "../../src/errors.js";
import { fileNameProblem, sanitizeFileName, uniqueFileName, validateFileName } from "../../src/store/names.js";

describe("validateFileName", () => {
  const good = ["song.mp3", "Résumé.pdf", "a b c.txt", "日本語.txt", "x", "archive.tar.gz", "emoji 🎵.flac", "a".repeat(255)];
  it.each(good)("accepts %j", (name) => {
    expect(validateFileName(name)).toBe(name);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["empty", "", /empty/],
    ["dot", ".", /\. or \.\./],
    ["dot dot", "..", /\. or \.\./],
    ["traversal", "../etc/passwd", /path/],
    ["traversal backslash", "..\\windows\\system32", /path/],
    ["absolute unix", "/etc/passwd", /path/],
    ["absolute windows", "C:\\boot.ini", /path/],
    ["drive relative", "C:boot.ini", /< > :/],
    ["separator", "a/b", /path/],
    ["nul", "a\u0000b", /control/],
    ["newline", "a\nb.txt", /control/],
    ["escape", "a\u001b[31mred", /control/],
    ["del", "a\u007fb", /control/],
    ["c1 control", "a\u0085b", /control/],
    ["bidi override", "gnp\u202e.exe", /bidirectional/],
    ["NFD", "Re\u0301sume\u0301.pdf", /NFC/],
    ["trailing dot", "report.", /end with a dot/],
    ["trailing space", "report ", /end with a dot or a space/],
    ["leading space", " report", /white space/],
    ["hidden", ".bashrc", /Hidden/],
    ["reserved CON", "CON", /reserved/],
    ["reserved con.txt", "con.txt", /reserved/],
    ["reserved com1", "Com1.log", /reserved/],
    ["reserved lpt9", "lpt9", /reserved/],
    ["windows char", "what?.txt", /< > :/],
    ["lone surrogate", "a\ud800b", /UTF-8/],
    ["replacement char", "a\ufffdb", /UTF-8/],
    ["too long ascii", "a".repeat(256), /255 bytes/],
    ["too long multibyte", "é".repeat(128), /255 bytes/],
  ];
  it.each(bad)("refuses %s", (_label, name, reason) => {
    expect(() => validateFileName(name)).toThrow();
    expect(thrownBy(() => validateFileName(name))).toSatisfy((err) => isPeerError(err, "BAD_NAME"));
    expect(fileNameProblem(name)).toMatch(reason);
  });
});

describe("uniqueFileName", () => {
  it("adds (1), (2) before the extension and never returns a taken name", () => {
    const taken = new Set(["a.txt", "a (1).txt"]);
    expect(uniqueFileName("a.txt", (n) => taken.has(n))).toBe("a (2).txt");
    expect(uniqueFileName("b.txt", (n) => taken.has(n))).toBe("b.txt");
    expect(uniqueFileName("README", (n) => n === "README")).toBe("README (1)");
  });

  it("keeps the result within 255 bytes", () => {
    const long = `${"é".repeat(125)}.txt`; // 254 bytes
    const name = uniqueFileName(long, (n) => n === long);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith(" (1).txt")).toBe(true);
  });
});

describe("sanitizeFileName", () => {
  it.each([
    ["../../etc/passwd", "_.._etc_passwd"],
    ["Re\u0301sume\u0301.pdf", "Résumé.pdf"],
    ["con.txt", "_con.txt"],
    [".hidden", "hidden"],
    ["report. ", "report"],
    ["", "fallback"],
    ["...", "fallback"],
  ])("turns %j into %j", (input, expected) => {
    expect(sanitizeFileName(input, "fallback")).toBe(expected);
  });
});

/** What `fn` throws (undefined when it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
