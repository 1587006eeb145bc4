import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createClientApi } from "../client/api.js";
import { LocalFileSchema } from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { FakePserver } from "../testing/fake-pserver.js";
import { arrangeFiles, FilesState } from "./files.svelte.js";
import { Selection } from "./selection.svelte.js";
import type { FileView } from "./views.js";

const file = (name: string, sizeBytes: number, addedAtMs: number, contentId = name.padEnd(64, "0")): FileView => ({ name, sizeBytes, addedAtMs, contentId });

const FILES = [
  file("report 10.pdf", 2_000, 300),
  file("Holiday.mp4", 31_457_280, 100),
  file("report 9.pdf", 1_000, 200),
  file("notes.txt", 12, 400),
];

describe("arrangeFiles", () => {
  it("sorts newest first, by name (numbers in number order, any case) or largest first", () => {
    expect(arrangeFiles(FILES, "date", "").map((f) => f.name)).toEqual(["notes.txt", "report 10.pdf", "report 9.pdf", "Holiday.mp4"]);
    expect(arrangeFiles(FILES, "name", "").map((f) => f.name)).toEqual(["Holiday.mp4", "notes.txt", "report 9.pdf", "report 10.pdf"]);
    expect(arrangeFiles(FILES, "size", "").map((f) => f.name)).toEqual(["Holiday.mp4", "report 10.pdf", "report 9.pdf", "notes.txt"]);
  });

  it("keeps the names that contain the filter, whatever the case, and finds a content id by its start", () => {
    expect(arrangeFiles(FILES, "name", "  REPORT ").map((f) => f.name)).toEqual(["report 9.pdf", "report 10.pdf"]);
    expect(arrangeFiles(FILES, "name", "zzz")).toEqual([]);
    expect(arrangeFiles([file("a", 1, 1, "ab12".padEnd(64, "f"))], "name", "ab12").map((f) => f.name)).toEqual(["a"]);
  });

  it("leaves the list it was given alone", () => {
    const copy = [...FILES];
    arrangeFiles(FILES, "size", "");
    expect(FILES).toEqual(copy);
  });
});

describe("FilesState", () => {
  it("shows the sorted, filtered list and only ticked files still in the folder", async () => {
    const pserver = new FakePserver();
    const tokens = new TokenStore(new MemoryStorage());
    const api = createClientApi(pserver.transport(tokens));
    tokens.set((await api.login({ username: "alice", password: "correct horse" })).sessionToken);
    const files = new FilesState({ api, tokens, baseUrl: "http://alice.test" });
    files.set(FILES.map((f) => create(LocalFileSchema, { contentId: f.contentId, name: f.name, size: BigInt(f.sizeBytes), addedAt: timestampFromMs(f.addedAtMs ?? 0) })));
    files.sortBy = "size";
    files.filter = "report";
    expect(files.shown.map((f) => f.name)).toEqual(["report 10.pdf", "report 9.pdf"]);

    const nine = FILES[2]?.contentId ?? "";
    const notes = FILES[3]?.contentId ?? "";
    files.selection.toggle(nine);
    files.selection.toggle(notes);
    // In the folder's order (newest first), whatever the order of the ticks.
    expect(files.selected.map((f) => f.name)).toEqual(["notes.txt", "report 9.pdf"]);
    pserver.files = files.files.map((f) => create(LocalFileSchema, { contentId: f.contentId, name: f.name }));
    await files.remove(notes);
    expect(files.selected.map((f) => f.name)).toEqual(["report 9.pdf"]);
  });
});

describe("saving a file", () => {
  it("asks the pserver for a save link to that file and opens it: the session token is never in the URL", async () => {
    const pserver = new FakePserver();
    const tokens = new TokenStore(new MemoryStorage());
    const api = createClientApi(pserver.transport(tokens));
    const token = (await api.login({ username: "alice", password: "correct horse" })).sessionToken;
    tokens.set(token);
    const opened: Array<[string, string]> = [];
    const files = new FilesState({ api, tokens, baseUrl: "http://alice.test:7001", openDownload: (url, name) => opened.push([url, name]) });
    const id = "ab".repeat(32);
    pserver.files = [create(LocalFileSchema, { contentId: id, name: "song.mp3" })];
    expect(await files.save(id, "song.mp3")).toBeUndefined();
    expect(pserver.saveLinks).toEqual([id]);
    expect(opened).toEqual([[`http://alice.test:7001/files/${id}?link=test.${"A".repeat(43)}`, "song.mp3"]]);
    expect(opened[0]![0]).not.toContain(token);
    // A file no longer held: a sentence, nothing opened.
    expect(await files.save("cd".repeat(32), "gone.bin")).toBe("That file is no longer in your shared folder.");
    expect(opened.length).toBe(1);
  });
});

describe("Selection", () => {
  it("ticks, unticks and sets, once per id", () => {
    const selection = new Selection();
    selection.toggle("a");
    selection.toggle("b", true);
    selection.toggle("b", true);
    expect(selection.ids).toEqual(["a", "b"]);
    selection.toggle("a");
    expect(selection.has("a")).toBe(false);
    selection.set(["c", "c", "d"]);
    expect(selection.ids).toEqual(["c", "d"]);
    expect(selection.pick([{ id: "d" }, { id: "e" }], (item) => item.id)).toEqual([{ id: "d" }]);
    selection.clear();
    expect(selection.ids).toEqual([]);
  });
});
