/** A fake Kindred API behind the real client, and the app rendered on a memory router. */
import { QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { createApiClient, makeApi, type Api } from "../api/client";
import { makeQueryClient } from "../App";
import { routes } from "../routes";
import { SessionProvider } from "../session/SessionContext";

export const BASE = "http://kindred.test";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

export type Handler = (call: Call) => Response | undefined | Promise<Response | undefined>;

export function json(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    ...init,
    headers: { "Content-Type": "application/json", ...(init.headers as Record<string, string>) },
  });
}

export function problem(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ type: "https://kindred.dev/problems/x", title: "Problem", status, detail: "", ...body }),
    { status, headers: { "Content-Type": "application/problem+json", ...headers } },
  );
}

/** A fetch that records every call and answers from `handler` (404 when it has no answer). */
export function fakeServer(handler: Handler) {
  const calls: Call[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const call: Call = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: request.body ? await request.text() : "",
    };
    calls.push(call);
    return (
      (await handler(call)) ??
      problem(404, { title: "Not found", detail: `no fake for ${call.method} ${call.path}` })
    );
  };
  const api: Api = makeApi(createApiClient({ fetch, baseUrl: BASE }));
  return { api, calls };
}

export function renderApp(path: string, api: Api) {
  const queryClient = makeQueryClient();
  queryClient.setDefaultOptions({ queries: { retry: false, staleTime: Infinity } });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const view = render(
    <QueryClientProvider client={queryClient}>
      <SessionProvider api={api}>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>,
  );
  return { ...view, router, queryClient };
}
