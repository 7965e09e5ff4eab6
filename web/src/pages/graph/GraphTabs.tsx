import { useTranslation } from "react-i18next";
import { NavLink } from "react-router";

/** The graph area's two pages: the explorer and the merge review. */
export function GraphTabs() {
  const { t } = useTranslation();
  return (
    <nav className="graph-tabs" aria-label={t("graph.sections")}>
      <ul>
        <li>
          <NavLink to="/graph" className="graph-tab">
            {t("graph.explorerTab")}
          </NavLink>
        </li>
        <li>
          <NavLink to="/resolution" className="graph-tab">
            {t("graph.mergeTab")}
          </NavLink>
        </li>
      </ul>
    </nav>
  );
}
