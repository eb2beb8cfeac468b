import { useSyncExternalStore } from "react";
import type { VisibilityDocument } from "@presence-platform/client";

/**
 * The page's visibility ("visible" / "hidden"), re-rendering on `visibilitychange`. Outside a
 * browser (server rendering) it is "visible".
 */
export function usePageVisibility(doc?: VisibilityDocument | null): "visible" | "hidden" {
  const d = doc === undefined ? defaultDocument() : doc;
  return useSyncExternalStore(
    (onChange) => {
      if (!d) return () => {};
      d.addEventListener("visibilitychange", onChange);
      return () => d.removeEventListener("visibilitychange", onChange);
    },
    () => (d?.visibilityState === "hidden" ? "hidden" : "visible"),
    () => "visible",
  );
}

function defaultDocument(): VisibilityDocument | null {
  const d = (globalThis as { document?: VisibilityDocument }).document;
  return d && typeof d.addEventListener === "function" ? d : null;
}
