/**
 * gRPC server reflection (v1 and v1alpha) on the RPC port, seen by real clients that have no
 * .proto files: `buf curl` (run from an empty temp directory, no `--schema`) lists services and
 * methods and calls unary and streaming methods over Connect/HTTP 1.1 and gRPC/h2c; a raw grpc-js
 * client of the reflection service gets descriptor sets that build a complete registry. Off by
 * default once a key is configured (the test server has one), on with PRESENCE_REFLECTION=true.
 */
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/** Files with every import before its importer (what a descriptor set needs). */
function topological(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const out: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const byName = new Map(files.map((f) => [f.name, f]));
  const place = (f: FileDescriptorProto) => {
    if (placed.has(f.name)) return;
    placed.add(f.name);
    for (const d of f.dependency) {
      const dep = byName.get(d);
      if (dep) place(dep);
    }
    out.push(f);
  };
  files.forEach(place);
  return out;
}
import { ServerReflection, type ServerReflectionResponse } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { grpcJsServiceClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "presence.v1.AdminService",
  "presence.v1.BackendService",
  "presence.v1.HistoryService",
  "presence.v1.PresenceService",
];

let server: TestServer;
let off: TestServer;
let token: string;
let emptyDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [server, off] = await Promise.all([startTestServer({ PRESENCE_REFLECTION: "true" }), startTestServer()]);
  token = await signTestToken(TEST_SECRET, { sub: "refl", name: "Reflection" });
  emptyDir = mkdtempSync(join(tmpdir(), "reflection-"));
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

afterAll(async () => {
  await Promise.all([server.close(), off.close()]);
  rmSync(emptyDir, { recursive: true, force: true });
});

/** `buf curl` without a schema (reflection), from a directory holding no proto files. */
function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(BUF, ["curl", ...args], { cwd: emptyDir, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
    });
    children.push(child);
  });
}

const PROTOCOLS: Array<[string, string[]]> = [
  ["Connect over HTTP/1.1", ["--protocol", "connect"]],
  ["gRPC over h2c", ["--protocol", "grpc", "--http2-prior-knowledge"]],
];

describe.each(PROTOCOLS)("buf curl --reflect, %s", (_name, protocol) => {
  it("lists every service the port serves", async () => {
    const res = await bufCurl([...protocol, "--list-services", server.baseUrl]);
    expect(res.stderr).toBe("");
    expect(res.stdout.trim().split("\n").sort()).toEqual(EXPECTED_SERVICES);
  });

  it("lists the methods of every service", async () => {
    const res = await bufCurl([...protocol, "--list-methods", server.baseUrl]);
    expect(res.stderr).toBe("");
    const methods = res.stdout.trim().split("\n");
    expect(methods).toContain("presence.v1.PresenceService/Join");
    expect(methods).toContain("presence.v1.PresenceService/WatchPresence");
    expect(methods).toContain("presence.v1.PresenceService/Broadcast");
    expect(methods).toContain("presence.v1.AdminService/KickSession");
    expect(methods).toContain("presence.v1.BackendService/Track");
    expect(methods).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  });

  it("calls Join with a token, then reads the room with GetPresence, with no proto files", async () => {
    const room = `reflection/${protocol[1]}`;
    const join = await bufCurl([...protocol, "-H", `Authorization: Bearer ${token}`, "-d", JSON.stringify({ room, metadata: { color: "#0a0" } }), `${server.baseUrl}/presence.v1.PresenceService/Join`]);
    expect(join.stderr).toBe("");
    const joined = JSON.parse(join.stdout) as { session: { connectionId: string }; view: { room: string } };
    expect(joined.view.room).toBe(room);
    const get = await bufCurl([...protocol, "-d", JSON.stringify({ room }), `${server.baseUrl}/presence.v1.PresenceService/GetPresence`]);
    const view = (JSON.parse(get.stdout) as { view: { users: Array<{ user: { userId: string }; connections: Array<{ connectionId: string; metadata: Record<string, string> }> }> } }).view;
    expect(view.users.map((u) => u.user.userId)).toEqual(["refl"]);
    expect(view.users[0]!.connections[0]).toMatchObject({ connectionId: joined.session.connectionId, metadata: { color: "#0a0" } });
  });

  it("reports an unknown method as not found in the reflected schema", async () => {
    const res = await bufCurl([...protocol, "-d", "{}", `${server.baseUrl}/presence.v1.PresenceService/NoSuchMethod`]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/NoSuchMethod/);
  });
});

it("answers the v1alpha protocol too (older grpcurl and Postman)", async () => {
  const res = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", "grpc-v1alpha", "--list-services", server.baseUrl]);
  expect(res.stderr).toBe("");
  expect(res.stdout.trim().split("\n").sort()).toEqual(EXPECTED_SERVICES);
});

it("is not served once a key is configured unless PRESENCE_REFLECTION=true", async () => {
  expect(off.config.reflection).toBe(false);
  const res = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "--list-services", off.baseUrl]);
  expect(res.code).not.toBe(0);
  expect(res.stderr).toMatch(/unimplemented/i);
});

/** One request/response exchange per query on one grpc-js bidi stream. */
async function reflect(service: typeof ServerReflection | typeof ServerReflectionV1Alpha, queries: object[]): Promise<ServerReflectionResponse[]> {
  const client = grpcJsServiceClient(service, server.baseUrl);
  try {
    const call = client.serverReflectionInfo!() as grpc.ClientDuplexStream<object, ServerReflectionResponse>;
    const answers: ServerReflectionResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: ServerReflectionResponse) => answers.push(r));
      call.on("error", reject);
      call.on("end", resolve);
    });
    for (const q of queries) call.write({ host: "presence", messageRequest: q });
    call.end();
    await done;
    return answers;
  } finally {
    client.close();
  }
}

const descriptorsOf = (r: ServerReflectionResponse) => {
  if (r.messageResponse.case !== "fileDescriptorResponse") throw new Error(`expected descriptors, got ${r.messageResponse.case}`);
  return r.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
};

describe("grpc-js reflection client", () => {
  it("answers every query kind on one stream, in order, echoing the host and request", async () => {
    const answers = await reflect(ServerReflection, [
      { case: "listServices", value: "*" },
      { case: "fileContainingSymbol", value: "presence.v1.PresenceService.Join" },
      { case: "fileByFilename", value: "presence/v1/admin.proto" },
      { case: "fileContainingSymbol", value: "presence.v1.NoSuchMessage" },
      { case: "allExtensionNumbersOfType", value: "presence.v1.JoinRequest" },
      { case: "fileContainingExtension", value: { containingType: "presence.v1.JoinRequest", extensionNumber: 100 } },
    ]);
    expect(answers.map((a) => a.messageResponse.case)).toEqual([
      "listServicesResponse",
      "fileDescriptorResponse",
      "fileDescriptorResponse",
      "errorResponse",
      "allExtensionNumbersResponse",
      "errorResponse",
    ]);
    expect(answers.every((a) => a.validHost === "presence")).toBe(true);
    expect(answers[1]!.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "presence.v1.PresenceService.Join" });
    expect(answers[3]!.messageResponse.value).toMatchObject({ errorCode: 5, errorMessage: 'symbol "presence.v1.NoSuchMessage" not found' });
    expect(answers[4]!.messageResponse.value).toMatchObject({ baseTypeName: "presence.v1.JoinRequest", extensionNumber: [] });

    // The answer for a symbol is its file first, then every transitive import: enough to build
    // a registry that resolves the whole service, nested types and well-known types included.
    const files = descriptorsOf(answers[1]!);
    expect(files[0]!.name).toBe("presence/v1/presence.proto");
    expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(["presence/v1/types.proto", "presence/v1/broadcast.proto", "google/protobuf/struct.proto"]));
    // As a descriptor set (protobuf-es's resolver form refuses a file reached by two import paths,
    // e.g. google/protobuf/struct.proto imported by two of our files).
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: topological(files) }));
    const svc = registry.getService("presence.v1.PresenceService");
    expect(svc?.methods.map((m) => m.name)).toContain("WatchUsers");
    expect(registry.getMessage("presence.v1.RoomView")?.fields.map((f) => f.name)).toContain("members_omitted");

    const admin = descriptorsOf(answers[2]!);
    expect(admin[0]!.service.map((s) => s.name)).toEqual(["AdminService"]);
    expect(createFileRegistry(create(FileDescriptorSetSchema, { file: topological(admin) })).getService("presence.v1.AdminService")?.methods.length).toBeGreaterThan(0);
  });

  it("serves the same answers on v1alpha", async () => {
    const [list, sym] = await reflect(ServerReflectionV1Alpha, [
      { case: "listServices", value: "" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
    ]);
    expect(list!.messageResponse.case).toBe("listServicesResponse");
    expect((list!.messageResponse.value as { service: { name: string }[] }).service.map((s) => s.name).sort()).toEqual(EXPECTED_SERVICES);
    expect(descriptorsOf(sym!)[0]!.name).toBe("grpc/health/v1/health.proto");
  });
});

describe("PRESENCE_REFLECTION", () => {
  it("defaults to on in development (no key) and off with a key; an explicit value wins", () => {
    expect(loadConfig({}).reflection).toBe(true);
    expect(loadConfig({ PRESENCE_JWT_SECRET: TEST_SECRET }).reflection).toBe(false);
    expect(loadConfig({ PRESENCE_JWKS_FILE: "/etc/presence/jwks.json" }).reflection).toBe(false);
    expect(loadConfig({ PRESENCE_JWT_SECRET: TEST_SECRET, PRESENCE_REFLECTION: "true" }).reflection).toBe(true);
    expect(loadConfig({ PRESENCE_REFLECTION: "off" }).reflection).toBe(false);
    expect(() => loadConfig({ PRESENCE_REFLECTION: "sometimes" })).toThrow('PRESENCE_REFLECTION="sometimes": must be true or false');
  });
});
