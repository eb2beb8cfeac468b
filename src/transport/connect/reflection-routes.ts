import { toBinary, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { ServerReflection as ReflectionV1 } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { STATUS_CODES } from "../../core/error-policy.js";
import { ServerReflection as ReflectionV1Alpha } from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * gRPC server reflection (`grpc.reflection.v1` and `grpc.reflection.v1alpha`, vendored protos) on
 * the RPC port, so `grpcurl`, Postman and `buf curl --reflect` list and call our services without
 * .proto files. connect-es has no reflection package (connect-es #507) and `@grpc/reflection` plugs
 * into a grpc-js Server only (connect-notes §5), so it is implemented here over the descriptors
 * protoc-gen-es embeds in `gen/` (each `DescFile.proto` is the file's FileDescriptorProto).
 *
 * Translation only: one index, built once from the services registered on the router (plus the
 * two reflection services themselves, or clients fail with "failed to find service"), maps
 * fully-qualified names and file names to files. Every file answer carries the file and all its
 * transitive dependencies, so a client can build the descriptors from any single answer.
 * Unknown names answer `error_response` with NOT_FOUND (5) and the stream goes on; extensions are
 * not used by our contract, so extension queries find nothing.
 *
 * Served only when PRESENCE_REFLECTION is on (default: on in development, i.e. without a
 * configured key); it needs no token (the auth interceptor lets it through while it is served).
 */
export const REFLECTION_SERVICES: readonly DescService[] = [ReflectionV1, ReflectionV1Alpha];

const NOT_FOUND = STATUS_CODES.not_found.grpc;
const INVALID_ARGUMENT = STATUS_CODES.invalid_argument.grpc;

type Request =
  | { case: "fileByFilename" | "fileContainingSymbol"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: "allExtensionNumbersOfType"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined; value?: undefined };

/** The `message_response` of one request (the same shape in v1 and v1alpha). */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

export interface ReflectionIndex {
  answer(req: Request): Answer;
}

/** Indexes the files reachable from `services` (their transitive imports included). */
export function createReflectionIndex(services: readonly DescService[]): ReflectionIndex {
  const byName = new Map<string, DescFile>(); // file name with .proto → file
  const bySymbol = new Map<string, DescFile>();
  const messages = new Set<string>();
  const visit = (f: DescFile) => {
    const fileName = f.proto.name;
    if (byName.has(fileName)) return;
    byName.set(fileName, f);
    f.dependencies.forEach(visit);
    const addMessage = (m: DescMessage) => {
      bySymbol.set(m.typeName, f);
      messages.add(m.typeName);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach((e) => bySymbol.set(e.typeName, f));
      m.nestedExtensions.forEach((x) => bySymbol.set(x.typeName, f));
    };
    f.messages.forEach(addMessage);
    f.enums.forEach((e) => bySymbol.set(e.typeName, f));
    f.extensions.forEach((x) => bySymbol.set(x.typeName, f));
    for (const s of f.services) {
      bySymbol.set(s.typeName, f);
      s.methods.forEach((m) => bySymbol.set(`${s.typeName}.${m.name}`, f));
    }
  };
  const all = [...new Map([...services, ...REFLECTION_SERVICES].map((s) => [s.typeName, s])).values()];
  all.forEach((s) => visit(s.file));
  const serviceNames = all.map((s) => ({ name: s.typeName })).sort((a, b) => a.name.localeCompare(b.name));
  const encoded = new Map<DescFile, Uint8Array>();
  const encode = (f: DescFile) => {
    let bytes = encoded.get(f);
    if (!bytes) encoded.set(f, (bytes = toBinary(FileDescriptorProtoSchema, f.proto)));
    return bytes;
  };

  /** The file first, then every transitive dependency once. */
  const closure = (f: DescFile): Answer => {
    const seen = new Set<DescFile>();
    const walk = (x: DescFile) => {
      if (seen.has(x)) return;
      seen.add(x);
      x.dependencies.forEach(walk);
    };
    walk(f);
    const rest = [...seen].filter((x) => x !== f);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: [f, ...rest].map(encode) } };
  };
  const notFound = (what: string): Answer => ({ case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } });

  return {
    answer(req) {
      switch (req.case) {
        case "listServices":
          return { case: "listServicesResponse", value: { service: serviceNames } };
        case "fileByFilename": {
          const f = byName.get(req.value);
          return f ? closure(f) : notFound(`file ${JSON.stringify(req.value)}`);
        }
        case "fileContainingSymbol": {
          const f = bySymbol.get(req.value.replace(/^\./, ""));
          return f ? closure(f) : notFound(`symbol ${JSON.stringify(req.value)}`);
        }
        case "fileContainingExtension":
          return notFound(`extension ${req.value.extensionNumber} of ${JSON.stringify(req.value.containingType)}`);
        case "allExtensionNumbersOfType": {
          const name = req.value.replace(/^\./, "");
          if (!messages.has(name)) return notFound(`type ${JSON.stringify(req.value)}`);
          return { case: "allExtensionNumbersResponse", value: { baseTypeName: name, extensionNumber: [] } };
        }
        default:
          return { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "message_request: must be set" } };
      }
    },
  };
}

/**
 * Registers both reflection services on a router whose other services are already registered
 * (call it last: the index lists what the router serves at that moment).
 */
export function registerReflection(router: ConnectRouter): ConnectRouter {
  const index = createReflectionIndex([...new Map(router.handlers.map((h) => [h.service.typeName, h.service])).values()]);
  async function* info(reqs: AsyncIterable<{ host: string; messageRequest: Request }>) {
    for await (const r of reqs) {
      yield { validHost: r.host, originalRequest: r, messageResponse: index.answer(r.messageRequest) };
    }
  }
  router.service(ReflectionV1, { serverReflectionInfo: (reqs) => info(reqs) });
  router.service(ReflectionV1Alpha, { serverReflectionInfo: (reqs) => info(reqs) });
  return router;
}
