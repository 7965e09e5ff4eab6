/**
 * The typed API client: openapi-fetch over the server's OpenAPI document (schema.d.ts,
 * `npm run gen:api`): paths, parameters and response bodies are checked by the compiler.
 * Same origin (base URL ''), with
 * - the bearer token from the in-memory session store on every request (never from storage);
 * - every error answer turned into an `ApiProblem` (problem+json → type, title, status,
 *   detail, errors[] with path/code/message) that callers throw and the UI places;
 * - a 401 on an authenticated request ending the session ("expired") — the router then shows
 *   the sign-in page with that message;
 * - ETag / If-Match for PATCH (concurrency.ts).
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { currentToken, expireSession } from "../session/store";
import { ifMatch, versionFromEtag } from "./concurrency";
import { ApiProblem, networkProblem, problemFromResponse } from "./problem";
import type { paths } from "./schema";
import type { Me, ObjectDefinition, RecordData, RecordPage, TokenResponse } from "./types";

export type ApiClient = Client<paths>;

/** Answers of these are about signing in, not about the current token: a 401 there ends nothing. */
const SESSION_PATHS = new Set([
  "/api/v1/auth/token",
  "/api/v1/auth/session",
  "/api/v1/auth/refresh",
  "/api/v1/auth/logout",
]);

/** Adds `Authorization: Bearer …` and turns a 401 for the current token into "expired". */
export const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token !== null && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ request, response, schemaPath }) {
    if (response.status !== 401 || SESSION_PATHS.has(schemaPath)) return undefined;
    // Only when the refused token is still the session's: an answer to a request of an
    // earlier session must not end the one signed in since.
    const sent = request.headers.get("Authorization");
    const token = currentToken();
    if (token !== null && sent === `Bearer ${token}`) expireSession();
    return undefined;
  },
};

export function createApiClient(
  options: { fetch?: (request: Request) => Promise<Response>; baseUrl?: string } = {},
): ApiClient {
  const client = createClient<paths>({
    // Same origin in the browser; tests (Node has no document URL) pass an absolute base.
    baseUrl: options.baseUrl ?? "",
    // Late-bound so tests can stub globalThis.fetch after the client is made.
    fetch: options.fetch ?? ((request: Request) => globalThis.fetch(request)),
    headers: { Accept: "application/json, application/problem+json" },
  });
  client.use(sessionMiddleware);
  return client;
}

export interface FetchResult<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** The answer, or its ApiProblem thrown (a network failure too; an abort stays an abort). */
async function settle<D>(call: Promise<FetchResult<D>>): Promise<FetchResult<D>> {
  let result: FetchResult<D>;
  try {
    result = await call;
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw networkProblem(error);
  }
  if (!result.response.ok) throw problemFromResponse(result.response, result.error);
  return result;
}

/** The body of a successful answer and the answer, else throw its ApiProblem. */
export async function unwrap<D>(call: Promise<FetchResult<D>>): Promise<{ data: D; response: Response }> {
  const result = await settle(call);
  if (result.data === undefined) throw problemFromResponse(result.response, result.error);
  return { data: result.data, response: result.response };
}

/** The body of a successful answer, else throw its ApiProblem. */
export async function bodyOf<D>(call: Promise<FetchResult<D>>): Promise<D> {
  return (await unwrap(call)).data;
}

/** An answer without a body (204): nothing, else throw its ApiProblem. */
export async function completed(call: Promise<FetchResult<unknown>>): Promise<void> {
  await settle(call);
}

export interface ListParams {
  limit?: number;
  cursor?: string | null;
  /** `name` or `-name`. */
  sort?: string | null;
  /** `filter[field]` or `filter[field][op]` → value. */
  filters?: { field: string; operator?: string; value: string }[];
}

/** The query string of a record list (filters are not in the OpenAPI parameters). */
export function recordListQuery(params: ListParams): string {
  const query = new URLSearchParams();
  if (params.limit !== undefined) query.set("limit", String(params.limit));
  if (params.sort) query.set("sort", params.sort);
  for (const filter of params.filters ?? []) {
    const key = filter.operator
      ? `filter[${filter.field}][${filter.operator}]`
      : `filter[${filter.field}]`;
    query.append(key, filter.value);
  }
  if (params.cursor) query.set("cursor", params.cursor);
  return query.toString();
}

export interface VersionedRecord {
  record: RecordData;
  /** From the ETag header, else the body's version. */
  version: number;
}

function versioned(record: RecordData, response: Response): VersionedRecord {
  return {
    record,
    version: versionFromEtag(response.headers.get("ETag")) ?? record.version,
  };
}

export function makeApi(client: ApiClient) {
  return {
    client,

    /**
     * Sign in as a browser (POST /auth/session): a bearer token for memory, and an HttpOnly
     * refresh cookie the page cannot read, so a reload can restore the session.
     */
    async signIn(email: string, password: string): Promise<TokenResponse> {
      const { data } = await unwrap(
        client.POST("/api/v1/auth/session", {
          body: { username: email, password },
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
        }),
      );
      return data;
    },

    /** A new bearer token from the refresh cookie (a reload, or before the token expires). */
    async refresh(): Promise<TokenResponse> {
      const { data } = await unwrap(
        client.POST("/api/v1/auth/refresh", {
          params: { header: { "x-kindred-session": "refresh" } },
        }),
      );
      return data;
    },

    /** Clear the refresh cookie (sign-out); failures are ignored — the page forgets anyway. */
    async signOut(): Promise<void> {
      try {
        await client.POST("/api/v1/auth/logout");
      } catch {
        // offline: the cookie expires on its own
      }
    },

    /** Who the token belongs to; `token` is passed before the session exists. */
    async me(token?: string): Promise<Me> {
      const { data } = await unwrap(
        client.GET("/api/v1/auth/me", {
          headers: token ? { Authorization: `Bearer ${token}` } : {},
        }),
      );
      return data;
    },

    async objects(): Promise<ObjectDefinition[]> {
      const { data } = await unwrap(client.GET("/api/v1/metadata/objects"));
      return data.data;
    },

    async records(objectName: string, params: ListParams): Promise<RecordPage> {
      const { data } = await unwrap(
        client.GET("/api/v1/objects/{object_name}/records", {
          params: { path: { object_name: objectName } },
          querySerializer: () => recordListQuery(params),
        }),
      );
      return data;
    },

    async record(objectName: string, recordId: string): Promise<VersionedRecord> {
      const { data, response } = await unwrap(
        client.GET("/api/v1/objects/{object_name}/records/{record_id}", {
          params: { path: { object_name: objectName, record_id: recordId } },
        }),
      );
      return versioned(data, response);
    },

    /** PATCH only the changed fields, on condition that the record is still at `version`. */
    async updateRecord(
      objectName: string,
      recordId: string,
      patch: Record<string, unknown>,
      version: number,
    ): Promise<VersionedRecord> {
      const { data, response } = await unwrap(
        client.PATCH("/api/v1/objects/{object_name}/records/{record_id}", {
          params: { path: { object_name: objectName, record_id: recordId } },
          headers: { "If-Match": ifMatch(version) },
          body: patch,
        }),
      );
      return versioned(data, response);
    },
  };
}

export type Api = ReturnType<typeof makeApi>;

export const api: Api = makeApi(createApiClient());

export { ApiProblem };
