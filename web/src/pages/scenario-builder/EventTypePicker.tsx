/** Event types from the catalog: the chosen ones (removable), and a search to add more. */
import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import type { EventTypeListed } from "../../api/scenarios";

const SHOWN = 12;

export function EventTypePicker({
  chosen,
  onChange,
  catalog,
  label,
}: {
  chosen: string[];
  onChange: (types: string[]) => void;
  catalog: EventTypeListed[];
  label: string;
}) {
  const { t } = useTranslation();
  const [query, setQuery] = useState("");
  const searchId = useId();
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const found =
    words.length === 0
      ? []
      : catalog.filter(
          (item) =>
            !chosen.includes(item.type) &&
            words.every((w) => item.type.toLowerCase().includes(w) || item.description.toLowerCase().includes(w)),
        );
  return (
    <div className="event-type-picker">
      <p className="picker-label">{label}</p>
      {chosen.length === 0 ? (
        <p className="hint">{t("builder.when.noneChosen")}</p>
      ) : (
        <ul className="chips">
          {chosen.map((type) => (
            <li key={type}>
              <code>{type}</code>
              <button
                type="button"
                className="chip-remove"
                aria-label={t("builder.when.removeType", { type })}
                onClick={() => onChange(chosen.filter((c) => c !== type))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <label htmlFor={searchId}>{t("builder.when.search")}</label>
      <input
        id={searchId}
        type="search"
        value={query}
        placeholder={t("builder.when.searchHint")}
        onChange={(e) => setQuery(e.target.value)}
      />
      {words.length > 0 && (
        <>
          <p className="hint" role="status">
            {t("builder.when.found", { total: found.length })}
          </p>
          <ul className="search-results">
            {found.slice(0, SHOWN).map((item) => (
              <li key={item.type}>
                <button
                  type="button"
                  onClick={() => {
                    onChange([...chosen, item.type]);
                    setQuery("");
                  }}
                >
                  {t("builder.when.addType", { type: item.type })}
                </button>
                <span className="muted">{item.description}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
