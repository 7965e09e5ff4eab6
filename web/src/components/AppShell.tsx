import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation, useNavigation } from "react-router";
import { navItems } from "../nav/navigation";
import { useMe, useSessionActions } from "../session/SessionContext";
import { usePurposeOnClient } from "../api/workspace";
import "../styles/workspace.css";
import { GlobalSearch } from "./GlobalSearch";
import { LanguageSwitch } from "./LanguageSwitch";
import { NotificationBell } from "./NotificationBell";

/** Header (product, user, language, sign-out), role-aware navigation and the page. */
export function AppShell() {
  const { t } = useTranslation();
  const me = useMe();
  const { signOut } = useSessionActions();
  const navigation = useNavigation();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const shownPath = useRef(location.pathname);
  usePurposeOnClient(); // requests carry the purpose the user declared (X-Purpose)

  // After a navigation, move focus to the new page so screen readers start there.
  useEffect(() => {
    if (shownPath.current === location.pathname) return;
    shownPath.current = location.pathname;
    main.current?.focus();
  }, [location.pathname]);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t("shell.skipToContent")}
      </a>
      <header className="shell-header">
        <p className="brand">{t("app.name")}</p>
        <GlobalSearch />
        <div className="shell-user">
          <span>{t("shell.signedInAs", { name: me.name })}</span>
          <NotificationBell />
          <LanguageSwitch />
          <button type="button" className="button button-quiet" onClick={() => void signOut()}>
            {t("shell.signOut")}
          </button>
        </div>
      </header>
      <nav className="shell-nav" aria-label={t("shell.mainNav")}>
        <ul>
          {navItems(me).map((item) => (
            <li key={item.area}>
              <Link
                to={item.to}
                className="nav-link"
                aria-current={location.pathname.startsWith(`/${item.area}`) ? "page" : undefined}
              >
                {t(item.labelKey)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1} className="shell-main">
        {navigation.state === "loading" && (
          <p className="loading-bar" role="status">
            {t("common.loading")}
          </p>
        )}
        <Outlet />
      </main>
    </div>
  );
}
