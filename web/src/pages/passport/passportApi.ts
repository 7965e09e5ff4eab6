/**
 * The customer's side of the API, for the passport page. It has a client of its own, built on
 * the same generated types (schema.d.ts) but without the staff session's middleware: a
 * passport session is not a staff session (the server refuses each as the other), so a staff
 * token that happens to be in this tab is never sent along, and a refused sign-in link never
 * ends a staff session. The passport token lives in the page's memory only.
 */
import createClient from "openapi-fetch";
import { bodyOf, type ApiClient } from "../../api/client";
import type { components, paths } from "../../api/schema";

type Schemas = components["schemas"];
export type PassportToken = Schemas["PassportToken"];
export type PassportData = Schemas["PassportData"];
export type PassportDimension = Schemas["Dimension"];

export interface SignedIn {
  session: PassportToken;
  data: PassportData;
}

export function createPassportClient(
  options: { fetch?: (request: Request) => Promise<Response>; baseUrl?: string } = {},
): ApiClient {
  return createClient<paths>({
    // Same origin (an absolute base, which a test's document URL provides as well).
    baseUrl: options.baseUrl ?? globalThis.location.origin,
    // Late-bound, so tests can stub globalThis.fetch after the client is made.
    fetch: options.fetch ?? ((request: Request) => globalThis.fetch(request)),
    headers: { Accept: "application/json, application/problem+json" },
  });
}

/** Exchange an emailed link's token for a passport session, then read the passport. */
export async function signInWithLink(client: ApiClient, token: string): Promise<SignedIn> {
  const session = await bodyOf(
    client.POST("/api/v1/passport/session", { body: { magic_link: token } }),
  );
  const data = await bodyOf(
    client.GET("/api/v1/passport/data", {
      headers: { Authorization: `Bearer ${session.token}` },
    }),
  );
  return { session, data };
}

/** Ask for a new link (answered alike whether or not the address is a customer's). */
export async function askForLink(client: ApiClient, email: string): Promise<void> {
  await bodyOf(client.POST("/api/v1/passport/magic-link", { body: { email } }));
}
