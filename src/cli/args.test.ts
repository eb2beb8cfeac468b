import { describe, expect, it } from "vitest";
import { LOCAL_URL, parseCliArgs, UsageError } from "./args.js";

describe("presence CLI arguments", () => {
  it("takes an id that starts with a dash as an argument (session ids are base64url)", () => {
    expect(parseCliArgs(["kick", "-GYTO_xrV3HgTLIbABo3XdOY"], {})).toMatchObject({ command: "kick", positionals: ["-GYTO_xrV3HgTLIbABo3XdOY"] });
    expect(parseCliArgs(["kick", "--", "-abc"], {})).toMatchObject({ positionals: ["-abc"] });
    expect(parseCliArgs(["user", "-a", "b", "--json"], {})).toMatchObject({ positionals: ["-a", "b"], json: true });
  });

  it("still knows -h and refuses unknown long options and misplaced ones", () => {
    expect(parseCliArgs(["rooms", "-h"], {})).toMatchObject({ help: true });
    expect(() => parseCliArgs(["rooms", "--bogus"], {})).toThrow(UsageError);
    expect(() => parseCliArgs(["kick", "x", "--limit", "3"], {})).toThrow(/--limit is an option of "rooms", "activity" only/);
  });

  it("takes the history options only on activity and stats", () => {
    expect(parseCliArgs(["activity", "--room", "/a", "--since", "2h", "--csv"], {}).history).toEqual({ room: "/a", user: undefined, since: "2h", until: undefined, kinds: undefined, at: undefined, csv: true, ndjson: false });
    expect(() => parseCliArgs(["rooms", "--csv"], {})).toThrow(/--csv is an option of "activity" only/);
    expect(() => parseCliArgs(["stats", "--user", "ana"], {})).toThrow(/--user is an option of "activity" only/);
    expect(() => parseCliArgs(["activity", "--csv", "--ndjson"], {})).toThrow(/choose one/);
  });

  it("reads the URL and token from options, then the environment", () => {
    expect(parseCliArgs(["rooms"], {})).toMatchObject({ url: LOCAL_URL, token: undefined });
    expect(parseCliArgs(["rooms"], { PRESENCE_URL: "http://h:1/", PRESENCE_ADMIN_TOKEN: "t" })).toMatchObject({ url: "http://h:1", token: "t" });
    expect(parseCliArgs(["rooms", "--url", "https://x", "--token", "-tok"], { PRESENCE_URL: "http://h:1" })).toMatchObject({ url: "https://x", token: "-tok" });
  });
});
