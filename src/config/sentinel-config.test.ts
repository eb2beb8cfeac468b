import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.js";

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return "";
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
};

describe("Redis Sentinel options", () => {
  it("reads the Sentinels, the master name and the Sentinels' credentials", () => {
    const c = loadConfig({
      PRESENCE_REDIS_SENTINELS: "10.0.0.1:26379, 10.0.0.2:26380",
      PRESENCE_REDIS_SENTINEL_MASTER: "presence-main",
      PRESENCE_REDIS_SENTINEL_USERNAME: "watcher",
      PRESENCE_REDIS_SENTINEL_PASSWORD: "s3cret",
      PRESENCE_REDIS_PASSWORD: "data",
    });
    expect(c.redis.sentinel).toEqual({
      sentinels: [
        { host: "10.0.0.1", port: 26379 },
        { host: "10.0.0.2", port: 26380 },
      ],
      master: "presence-main",
      username: "watcher",
      password: "s3cret",
    });
    expect(c.redis.password).toBe("data");
    expect(loadConfig({ PRESENCE_REDIS_URL: "redis://r:6379" }).redis.sentinel).toBeUndefined();
  });

  it("refuses what cannot work, naming the variable", () => {
    expect(problems({ PRESENCE_REDIS_SENTINELS: "10.0.0.1:26379" })).toContain("PRESENCE_REDIS_SENTINEL_MASTER: required with PRESENCE_REDIS_SENTINELS");
    expect(problems({ PRESENCE_REDIS_SENTINELS: "10.0.0.1", PRESENCE_REDIS_SENTINEL_MASTER: "m" })).toContain('PRESENCE_REDIS_SENTINELS: "10.0.0.1" must be host:port (port 1–65535)');
    expect(problems({ PRESENCE_REDIS_SENTINELS: "h:0", PRESENCE_REDIS_SENTINEL_MASTER: "m" })).toContain("must be host:port (port 1–65535)");
    expect(problems({ PRESENCE_REDIS_SENTINELS: "h:1", PRESENCE_REDIS_SENTINEL_MASTER: "m", PRESENCE_REDIS_URL: "redis://r:6379" })).toContain(
      "PRESENCE_REDIS_SENTINELS and PRESENCE_REDIS_URL: set one Redis topology, not both",
    );
    expect(problems({ PRESENCE_REDIS_URL: "redis://r:6379", PRESENCE_REDIS_CLUSTER: "r:7000" })).toContain("PRESENCE_REDIS_URL and PRESENCE_REDIS_CLUSTER: set one Redis topology, not both");
    expect(problems({ PRESENCE_REDIS_SENTINEL_MASTER: "m" })).toContain("PRESENCE_REDIS_SENTINEL_MASTER: only with PRESENCE_REDIS_SENTINELS");
    expect(problems({ PRESENCE_REDIS_SENTINELS: "h:1", PRESENCE_REDIS_SENTINEL_MASTER: "m", PRESENCE_REDIS_SENTINEL_USERNAME: "u" })).toContain(
      "PRESENCE_REDIS_SENTINEL_USERNAME: needs PRESENCE_REDIS_SENTINEL_PASSWORD or PRESENCE_REDIS_SENTINEL_PASSWORD_FILE",
    );
    expect(problems({ PRESENCE_REDIS_SENTINELS: "h:1", PRESENCE_REDIS_SENTINEL_MASTER: "m", PRESENCE_REDIS_SENTINEL_PASSWORD_FILE: "/nonexistent/pw" })).toContain(
      'PRESENCE_REDIS_SENTINEL_PASSWORD_FILE="/nonexistent/pw": cannot read it',
    );
  });
});
