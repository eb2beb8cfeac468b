import * as http2 from "node:http2";
import type { OnePortHandler } from "./one-port-server.js";

/**
 * Wraps a handler so that, on HTTP/2, closing the request's stream emits `'drain'` on a response
 * that has not finished. Node never settles a write pending on a stream that the peer reset, so
 * connect-node's writer (which waits for `'drain'` or `'error'`) would stay suspended forever and
 * skip its cleanup (connect-notes §1). HTTP/1.1 requests pass through untouched.
 */
export function withDrainOnClose(handler: OnePortHandler): OnePortHandler {
  return (req, res) => {
    if (req instanceof http2.Http2ServerRequest) {
      req.stream.once("close", () => {
        if (!res.writableFinished) res.emit("drain");
      });
      // A response sent before the request body was read to its end (e.g. a body over the size
      // limit) would leave the client blocked on flow control and the stream open until the
      // session ends (and shutdown waiting for its deadline): discard the rest of the body. The
      // compat request's own 'data' listener would pause the stream again, so it goes first.
      req.stream.once("finish", () => {
        if (req.stream.readableEnded) return;
        req.stream.removeAllListeners("data");
        req.stream.resume();
      });
    }
    handler(req, res);
  };
}
