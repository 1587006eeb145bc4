import { describe, expect, it } from "vitest";
import { BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES, BROWSER_PEER_ANSWER_CALLS_MAX } from "../constants.js";
import { mayStartAnswerCall } from "./gateway-link.js";

describe("when a browser peer starts another AnswerPieces call", () => {
  it("starts one at once for a single piece when none is in flight", () => {
    expect(mayStartAnswerCall(0, 1)).toBe(true);
  });

  it("starts nothing with nothing waiting", () => {
    expect(mayStartAnswerCall(0, 0)).toBe(false);
    expect(mayStartAnswerCall(1, 0)).toBe(false);
  });

  it("lets fewer pieces than the batch minimum wait for the running call instead of paying a call for them", () => {
    for (let waiting = 1; waiting < BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES; waiting++) expect(mayStartAnswerCall(1, waiting)).toBe(false);
    expect(mayStartAnswerCall(1, BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES)).toBe(true);
  });

  it("never has more than the cap in flight, however many pieces wait", () => {
    expect(mayStartAnswerCall(BROWSER_PEER_ANSWER_CALLS_MAX, 1_000)).toBe(false);
    expect(mayStartAnswerCall(BROWSER_PEER_ANSWER_CALLS_MAX - 1, 1_000)).toBe(true);
  });
});
