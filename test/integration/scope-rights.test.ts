import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, expect, it } from "vitest";
import { connectClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * Scopes and managed rooms under the access model (issue 11's rights, docs/security.md): a scope is
 * the room-kind resource `scope:<name>`, ListOnline leaves out users the caller may not see (a list
 * is not an oracle), and ending someone else's room needs the `kick` right on it.
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const token = (sub: string, extra: Record<string, unknown> = {}) => signTestToken(TEST_SECRET, { sub, name: sub, ...extra });

it("reads only the scopes and users the caller's rights name", async () => {
  const rights = { "/**": ["join", "watch", "read"], "scope:zone:*": ["read", "watch"], "user:ana": ["status.read"], "user:bob": ["status.read"] };
  const s = await startTestServer({ PRESENCE_USER_RIGHTS: JSON.stringify(rights) });
  servers.push(s);
  const svc = connectClient(s.baseUrl, await token("backend", { role: "service" }));
  for (const u of ["ana", "bob", "cy"]) await svc.join({ room: "/lobby", onBehalfOf: { userId: u }, scopes: ["zone:1", "org:1"] });
  const dan = connectClient(s.baseUrl, await token("dan"));
  expect((await dan.countOnline({ scopes: ["zone:1"] })).scopes[0]).toMatchObject({ scope: "zone:1", users: 3 });
  const denied = (await dan.countOnline({ scopes: ["zone:1", "org:1"] }).catch((e: unknown) => e)) as ConnectError;
  expect(denied.code).toBe(Code.PermissionDenied);
  expect(denied.rawMessage).toContain("scopes[1]");
  const listed = await dan.listOnline({ scope: "zone:1", pageSize: 10 });
  expect(listed.users.map((u) => u.user!.userId).sort()).toEqual(["ana", "bob"]); // cy exists but dan may not see her
  expect(((await dan.listOnline({ scope: "org:1" }).catch((e: unknown) => e)) as ConnectError).code).toBe(Code.PermissionDenied);
});

it("ends another user's managed room only with the kick right", async () => {
  const rights = { "/**": ["join", "watch", "read"], "/ops/**": ["kick"], "user:**": ["status.read"] };
  const s = await startTestServer({ PRESENCE_USER_RIGHTS: JSON.stringify(rights) });
  servers.push(s);
  const svc = connectClient(s.baseUrl, await token("backend", { role: "service" }));
  await svc.createRoom({ room: "/ops/1", ownerUserId: "ana" });
  await svc.createRoom({ room: "/team/1", ownerUserId: "ana" });
  const bob = connectClient(s.baseUrl, await token("bob"));
  expect(((await bob.endRoom({ room: "/team/1" }).catch((e: unknown) => e)) as ConnectError).code).toBe(Code.PermissionDenied);
  const ana = connectClient(s.baseUrl, await token("ana"));
  expect((await ana.endRoom({ room: "/team/1" })).room?.endedBy).toBe("ana"); // the owner may
  expect((await bob.endRoom({ room: "/ops/1" })).room?.endedBy).toBe("bob"); // kick on /ops/** is enough
});
