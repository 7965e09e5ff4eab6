import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { useObjects } from "../../api/queries";
import type { ObjectDefinition } from "../../api/types";
import { useSearch, type SearchHit } from "../../api/workspace";
import { Highlighted } from "../../components/Highlighted";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { fieldLabel, objectLabel } from "../../records/fields";
import "../../styles/workspace.css";

/** Hits grouped by object, in the order the best hit of each object ranks. */
export function groupHits(hits: SearchHit[]): { object: string; hits: SearchHit[] }[] {
  const groups = new Map<string, SearchHit[]>();
  for (const hit of hits) {
    const group = groups.get(hit.object);
    if (group) group.push(hit);
    else groups.set(hit.object, [hit]);
  }
  return [...groups].map(([object, grouped]) => ({ object, hits: grouped }));
}

/** /search?q= — records matching the words (Chinese or English) with highlighted snippets. */
export default function SearchPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const [params] = useSearchParams();
  const q = (params.get("q") ?? "").trim();
  const results = useSearch(q);
  const objects = useObjects();
  const heading = q ? t("workspace.search.headingFor", { q }) : t("workspace.search.heading");
  useDocumentTitle(heading);
  const definition = (name: string): ObjectDefinition | undefined =>
    objects.data?.find((o) => o.name === name);

  return (
    <>
      <h1>{heading}</h1>
      {!q && <p>{t("workspace.search.prompt")}</p>}
      {q && results.isPending && <p role="status">{t("common.loading")}</p>}
      {results.isError && <ProblemMessage error={results.error} />}
      {results.data && (
        <>
          <p role="status">{t("workspace.search.count", { count: results.data.data.length })}</p>
          {results.data.data.length === 0 && <p>{t("workspace.search.empty", { q })}</p>}
          {groupHits(results.data.data).map((group) => {
            const object = definition(group.object);
            const label = object ? objectLabel(object, language, true) : group.object;
            const headingId = `search-${group.object}`;
            return (
              <section key={group.object} aria-labelledby={headingId} className="search-group">
                <h2 id={headingId}>
                  {t("workspace.search.group", { objects: label, count: group.hits.length })}
                </h2>
                <ul className="search-hits">
                  {group.hits.map((hit) => {
                    const field = hit.snippet
                      ? object?.fields.find((f) => f.name === hit.snippet?.field)
                      : undefined;
                    return (
                      <li key={hit.id} className="search-hit">
                        <Link to={`/records/${hit.object}/${hit.id}`}>{hit.title}</Link>
                        {hit.snippet && (
                          <p className="snippet">
                            <span className="muted">
                              {t("workspace.search.matchedIn", {
                                field: field ? fieldLabel(field, language) : hit.snippet.field,
                              })}
                              {": "}
                            </span>
                            <Highlighted text={hit.snippet.text} highlights={hit.snippet.highlights} />
                          </p>
                        )}
                      </li>
                    );
                  })}
                </ul>
              </section>
            );
          })}
        </>
      )}
    </>
  );
}
