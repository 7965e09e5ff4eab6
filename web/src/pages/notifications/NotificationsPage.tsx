/**
 * /notifications — what scenarios' `notify` steps sent you or your roles, newest first, with
 * your own read state: show all or unread only, open the record it is about, mark one read or
 * unread, mark all read. Text that quotes a record you may not fully read is withheld (the
 * server decides, per reader).
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useMarkNotifications, useNotifications, type Notification } from "../../api/notifications";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { formatTimestamp } from "../../records/format";

/** A link a scenario wrote: console paths open in the console, web addresses as links; any
 * other scheme (javascript:, data:) is not made a link at all. */
export function safeLink(link: string | null): { internal: string } | { external: string } | null {
  if (!link) return null;
  if (link.startsWith("/") && !link.startsWith("//")) return { internal: link };
  try {
    const url = new URL(link);
    return url.protocol === "https:" || url.protocol === "http:" ? { external: url.href } : null;
  } catch {
    return null;
  }
}

export default function NotificationsPage() {
  const { t } = useTranslation();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.length > 0 ? cursors[cursors.length - 1] : null;
  const inbox = useNotifications(unreadOnly, cursor ?? null);
  const mark = useMarkNotifications();
  useDocumentTitle(t("notifications.heading"));

  function show(unread: boolean) {
    setUnreadOnly(unread);
    setCursors([]);
  }

  return (
    <>
      <h1>{t("notifications.heading")}</h1>
      <div className="toolbar notification-actions">
        <fieldset className="inline-choice">
          <legend>{t("notifications.showing")}</legend>
          <label>
            <input type="radio" name="notifications-show" checked={!unreadOnly} onChange={() => show(false)} />{" "}
            {t("notifications.all")}
          </label>
          <label>
            <input type="radio" name="notifications-show" checked={unreadOnly} onChange={() => show(true)} />{" "}
            {t("notifications.unreadOnly")}
          </label>
        </fieldset>
        {inbox.data && <span>{t("notifications.unreadCount", { count: inbox.data.unread })}</span>}
        <button
          type="button"
          className="button"
          onClick={() => mark.all.mutate()}
          aria-disabled={mark.all.isPending || (inbox.data?.unread ?? 0) === 0}
          disabled={(inbox.data?.unread ?? 0) === 0}
        >
          {t("notifications.markAllRead")}
        </button>
      </div>
      <div aria-live="polite">
        {mark.all.isSuccess && <p role="status">{t("notifications.markedAll", { count: mark.all.data.marked })}</p>}
      </div>
      {mark.all.isError && <ProblemMessage error={mark.all.error} />}
      {mark.read.isError && <ProblemMessage error={mark.read.error} />}
      {mark.unread.isError && <ProblemMessage error={mark.unread.error} />}
      {inbox.isPending && <p role="status">{t("common.loading")}</p>}
      {inbox.isError && <ProblemMessage error={inbox.error} />}
      {inbox.data && inbox.data.data.length === 0 && (
        <p>{unreadOnly ? t("notifications.noneUnread") : t("notifications.none")}</p>
      )}
      {inbox.data && inbox.data.data.length > 0 && (
        <ol className="notification-list" aria-label={t("notifications.caption")}>
          {inbox.data.data.map((notification) => (
            <Entry
              key={notification.id}
              notification={notification}
              onRead={() => mark.read.mutate(notification.id)}
              onUnread={() => mark.unread.mutate(notification.id)}
            />
          ))}
        </ol>
      )}
      <div className="notification-actions">
        {cursors.length > 0 && (
          <button type="button" className="button button-quiet" onClick={() => setCursors([])}>
            {t("notifications.newest")}
          </button>
        )}
        {inbox.data?.next_cursor && (
          <button
            type="button"
            className="button"
            onClick={() => setCursors([...cursors, inbox.data.next_cursor as string])}
          >
            {t("notifications.more")}
          </button>
        )}
      </div>
    </>
  );
}

function Entry({
  notification,
  onRead,
  onUnread,
}: {
  notification: Notification;
  onRead: () => void;
  onUnread: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const unread = notification.read_at === null;
  const link = safeLink(notification.link);
  const title = notification.title ?? t("notifications.heading");
  return (
    <li className={unread ? "unread" : undefined}>
      <h2>
        {unread && <span className="notification-unread">{t("notifications.unreadBadge")}</span>}{" "}
        {title}
      </h2>
      {notification.message && <p>{notification.message}</p>}
      {notification.withheld && <p className="muted">{t("notifications.withheld")}</p>}
      <p className="muted">
        {notification.scenario && <span>{t("notifications.from", { scenario: notification.scenario })} · </span>}
        {notification.role && <span>{t("notifications.toRole", { role: notification.role })} · </span>}
        <time dateTime={notification.created_at}>{formatTimestamp(notification.created_at, language)}</time>
      </p>
      <div className="notification-actions">
        {notification.about && (
          <Link to={`/records/${encodeURIComponent(notification.about.object)}/${encodeURIComponent(notification.about.id)}`}>
            {t("notifications.about")}
          </Link>
        )}
        {link && "internal" in link && <Link to={link.internal}>{t("notifications.open")}</Link>}
        {link && "external" in link && (
          <a href={link.external} rel="noopener noreferrer">
            {t("notifications.open")}
          </a>
        )}
        {unread ? (
          <button type="button" className="button button-quiet" onClick={onRead}>
            {t("notifications.markRead")}
          </button>
        ) : (
          <button type="button" className="button button-quiet" onClick={onUnread}>
            {t("notifications.markUnread")}
          </button>
        )}
      </div>
    </li>
  );
}
