import { useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";

/** The header's search box: Enter opens /search?q=… (records of every object you may read). */
export function GlobalSearch() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const location = useLocation();
  const onSearchPage = location.pathname === "/search";
  const asked = onSearchPage ? (new URLSearchParams(location.search).get("q") ?? "") : "";
  const [text, setText] = useState(asked);
  const [shown, setShown] = useState(asked);
  if (asked !== shown) {
    // Navigated to another query (back/forward): the box follows the address.
    setShown(asked);
    setText(asked);
  }

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    const q = text.trim();
    if (!q) return;
    void navigate(`/search?q=${encodeURIComponent(q)}`);
  }

  return (
    <form role="search" className="global-search" aria-label={t("workspace.search.label")} onSubmit={submit}>
      <label htmlFor="global-search" className="visually-hidden">
        {t("workspace.search.label")}
      </label>
      <input
        id="global-search"
        type="search"
        value={text}
        autoComplete="off"
        onChange={(event) => setText(event.target.value)}
      />
      <button type="submit" className="button button-quiet">
        {t("workspace.search.submit")}
      </button>
    </form>
  );
}
