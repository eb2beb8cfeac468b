/** Our WebSocket protocol for load generators: binary protobuf ClientFrames, masked as a client must. */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../gen/presence/v1/frames_pb.js";
import { clientFrame } from "./raw-ws.js";

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

/** One ClientFrame as a masked binary WebSocket frame. */
export const encodeClient = (f: ClientFrameInit): Buffer => clientFrame(2, toBinary(ClientFrameSchema, create(ClientFrameSchema, f)));
