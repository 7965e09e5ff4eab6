/** The header's link to the notification inbox, naming the unread count (refreshed every
 * 30 seconds). Without a count (none unread, or it could not be read) it is a plain link. */
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useUnreadCount } from "../api/notifications";

export function NotificationBell() {
  const { t } = useTranslation();
  const unread = useUnreadCount();
  const count = unread.data ?? 0;
  if (count === 0) {
    return (
      <Link to="/notifications" className="notification-bell">
        {t("notifications.bell")}
      </Link>
    );
  }
  return (
    <Link
      to="/notifications"
      className="notification-bell"
      aria-label={t("notifications.bellUnread", { count })}
    >
      {t("notifications.bell")} <span className="notification-count">{count}</span>
    </Link>
  );
}
