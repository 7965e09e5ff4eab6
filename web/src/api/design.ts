/**
 * Typed calls of the design area: CSV import jobs (/api/v1/imports) and the runtime data
 * model (/api/v1/metadata/objects), with their TanStack Query hooks. Every error answer is
 * thrown as an ApiProblem (as client.ts does), for the page to place at what it concerns.
 */
import { useQuery } from "@tanstack/react-query";
import { useApi } from "../session/SessionContext";
import type { ApiClient } from "./client";
import { unwrap } from "./client";
import { ifMatch, versionFromEtag } from "./concurrency";
import { networkProblem, problemFromResponse } from "./problem";
import type { components } from "./schema";
import type { ObjectDefinition } from "./types";

type Schemas = components["schemas"];
export type ImportJob = Schemas["ImportJobPublic"];
export type ImportUpload = Schemas["ImportUploadPublic"];
export type ImportPreview = Schemas["ImportPreviewPublic"];
export type ImportReport = Schemas["ImportReportPublic"];
export type ImportPreset = Schemas["ImportPresetPublic"];
export type ImportColumn = Schemas["ImportColumnPublic"];
export type ImportMode = ImportJob["mode"];
export type DefinitionChange = Schemas["ObjectDefinitionHistory"]["data"][number];

/** What the user chose in the wizard: sent with the preview, the dry run and the import. */
export interface ImportChoice {
  object?: string | null;
  preset?: string | null;
  /** column → field, "" leaves the column out; absent: the suggested mapping. */
  mapping?: Record<string, string> | null;
  mode: ImportMode;
}

export type Json = Record<string, unknown>;


export interface VersionedDefinition {
  definition: ObjectDefinition;
  version: number;
}

function versioned(definition: ObjectDefinition, response: Response): VersionedDefinition {
  return {
    definition,
    version: versionFromEtag(response.headers.get("ETag")) ?? definition.version,
  };
}

export function designApi(client: ApiClient) {
  const path = (name: string) => ({ params: { path: { name } } });
  const fieldPath = (name: string, field: string) => ({
    params: { path: { name, field_name: field } },
  });
  const job = (id: string) => ({ params: { path: { import_id: id } } });

  return {
    async presets(): Promise<ImportPreset[]> {
      return (await unwrap(client.GET("/api/v1/imports/presets"))).data.data;
    },

    /** The file goes as it is (bytes, not decoded here): the server reads its encoding. */
    async upload(file: Blob, filename: string, encoding: "utf-8" | "gb18030"): Promise<ImportUpload> {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const { data } = await unwrap(
        client.POST("/api/v1/imports", {
          params: { query: { filename, encoding } },
          body: bytes as unknown as string,
          bodySerializer: (body: unknown) => body as BodyInit,
          headers: { "Content-Type": "text/csv" },
        }),
      );
      return data;
    },

    async job(id: string): Promise<ImportJob> {
      return (await unwrap(client.GET("/api/v1/imports/{import_id}", job(id)))).data;
    },

    async preview(id: string, choice: ImportChoice, limit = 10): Promise<ImportPreview> {
      const { data } = await unwrap(
        client.POST("/api/v1/imports/{import_id}/preview", { ...job(id), body: { ...choice, limit } }),
      );
      return data;
    },

    async dryRun(id: string, choice: ImportChoice): Promise<ImportReport> {
      const { data } = await unwrap(
        client.POST("/api/v1/imports/{import_id}/dry-run", { ...job(id), body: choice }),
      );
      return data;
    },

    async run(id: string, choice: ImportChoice): Promise<ImportJob> {
      const { data } = await unwrap(
        client.POST("/api/v1/imports/{import_id}/run", { ...job(id), body: choice }),
      );
      return data;
    },

    /** The bad rows as a CSV file (fetched with the session's token, then saved by the page). */
    async errorRows(id: string): Promise<Blob> {
      const { data } = await unwrap(
        client.GET("/api/v1/imports/{import_id}/error-rows", { ...job(id), parseAs: "blob" }),
      );
      return data;
    },

    async object(name: string): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(client.GET("/api/v1/metadata/objects/{name}", path(name)));
      return versioned(data, response);
    },

    async createObject(body: Json): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(
        client.POST("/api/v1/metadata/objects", {
          body: body as components["schemas"]["ObjectDefinitionCreate"],
        }),
      );
      return versioned(data, response);
    },

    async updateObject(name: string, changes: Json, version: number): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(
        client.PATCH("/api/v1/metadata/objects/{name}", {
          ...path(name),
          body: changes,
          headers: { "If-Match": ifMatch(version) },
        }),
      );
      return versioned(data, response);
    },

    async deleteObject(name: string): Promise<void> {
      const result = await client
        .DELETE("/api/v1/metadata/objects/{name}", path(name))
        .catch((error: unknown) => {
          throw networkProblem(error);
        });
      if (!result.response.ok) throw problemFromResponse(result.response, result.error);
    },

    async addField(name: string, field: Json, version: number): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(
        client.POST("/api/v1/metadata/objects/{name}/fields", {
          ...path(name),
          body: field as components["schemas"]["FieldDefinitionCreate"],
          headers: { "If-Match": ifMatch(version) },
        }),
      );
      return versioned(data, response);
    },

    async updateField(
      name: string,
      field: string,
      changes: Json,
      version: number,
    ): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(
        client.PATCH("/api/v1/metadata/objects/{name}/fields/{field_name}", {
          ...fieldPath(name, field),
          body: changes,
          headers: { "If-Match": ifMatch(version) },
        }),
      );
      return versioned(data, response);
    },

    async deleteField(name: string, field: string, version: number): Promise<VersionedDefinition> {
      const { data, response } = await unwrap(
        client.DELETE("/api/v1/metadata/objects/{name}/fields/{field_name}", {
          ...fieldPath(name, field),
          headers: { "If-Match": ifMatch(version) },
        }),
      );
      return versioned(data, response);
    },

    async history(name: string): Promise<DefinitionChange[]> {
      const { data } = await unwrap(client.GET("/api/v1/metadata/objects/{name}/history", path(name)));
      return data.data;
    },
  };
}

export type DesignApi = ReturnType<typeof designApi>;

/** The design calls over the session's client. */
export function useDesignApi(): DesignApi {
  return designApi(useApi().client);
}

export const designKeys = {
  presets: ["imports", "presets"] as const,
  job: (id: string) => ["imports", id] as const,
  object: (name: string) => ["design", "object", name] as const,
  history: (name: string) => ["design", "history", name] as const,
};

export function usePresets() {
  const api = useDesignApi();
  return useQuery({ queryKey: designKeys.presets, queryFn: () => api.presets(), staleTime: Infinity });
}

/** The import job, polled every half second while it runs. */
export function useImportJob(id: string | null) {
  const api = useDesignApi();
  return useQuery({
    queryKey: designKeys.job(id ?? ""),
    queryFn: () => api.job(id ?? ""),
    enabled: id !== null,
    refetchInterval: (query) => (query.state.data?.state === "running" ? 500 : false),
  });
}

export function useDefinition(name: string | null) {
  const api = useDesignApi();
  return useQuery({
    queryKey: designKeys.object(name ?? ""),
    queryFn: () => api.object(name ?? ""),
    enabled: name !== null,
  });
}

export function useHistory(name: string | null) {
  const api = useDesignApi();
  return useQuery({
    queryKey: designKeys.history(name ?? ""),
    queryFn: () => api.history(name ?? ""),
    enabled: name !== null,
  });
}
