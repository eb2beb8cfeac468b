import { createContext, createElement, useContext, type ReactElement, type ReactNode } from "react";
import type { PresenceClient } from "@presence-platform/client";

/**
 * `PresenceProvider` puts a presence client in React context, so hooks (`useUserStatus`,
 * `useRoom`, `useOthers`, …) find it without passing it around. The application creates and
 * closes the client; the provider only shares it.
 */
const ClientContext = createContext<PresenceClient | null>(null);

export function PresenceProvider(props: { client: PresenceClient; children?: ReactNode | undefined }): ReactElement {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest PresenceProvider (null outside one). */
export function usePresenceClient(): PresenceClient | null {
  return useContext(ClientContext);
}

/** Like `usePresenceClient`, but throws a clear error outside a PresenceProvider. */
export function useRequiredPresenceClient(hook: string): PresenceClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error(`${hook}: no presence client; wrap the component in <PresenceProvider client={…}>`);
  return client;
}
