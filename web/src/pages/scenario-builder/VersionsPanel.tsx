/** Every saved version (who saved it and when), a line diff between any two, and loading an
 * older version into the editor (saved again as a new version). */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useUserName, useVersions, type ScenarioVersion } from "../../api/scenarios";
import { ProblemMessage } from "../../components/ProblemMessage";
import { toYaml } from "../../scenario-builder/definition";
import { diffStats, lineDiff } from "../../scenario-builder/diff";
import { LabeledSelect } from "./LabeledSelect";

interface Props {
  name: string;
  onLoad: (version: ScenarioVersion) => void;
}

export function VersionsPanel({ name, onLoad }: Props) {
  const { t } = useTranslation();
  const versions = useVersions(name);
  const items = versions.data ?? [];
  const latest = items.at(-1)?.version ?? 0;
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  if (versions.isPending) return <p role="status">{t("common.loading")}</p>;
  if (versions.isError) return <ProblemMessage error={versions.error} />;
  const left = from ?? Math.max(1, latest - 1);
  const right = to ?? latest;
  const before = items.find((v) => v.version === left);
  const after = items.find((v) => v.version === right);
  const diff = before && after ? lineDiff(toYaml(before.definition), toYaml(after.definition)) : [];
  const stats = diffStats(diff);
  return (
    <div className="versions">
      <table className="compact">
        <caption>{t("builder.versions.caption")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("builder.versions.version")}</th>
            <th scope="col">{t("builder.versions.savedAt")}</th>
            <th scope="col">{t("builder.versions.savedBy")}</th>
            <th scope="col">{t("builder.versions.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {[...items].reverse().map((version) => (
            <VersionRow key={version.version} version={version} onLoad={onLoad} />
          ))}
        </tbody>
      </table>
      {items.length > 1 && (
        <>
          <h3>{t("builder.versions.compare")}</h3>
          <div className="button-row">
            <LabeledSelect label={t("builder.versions.from")} value={left} onChange={(e) => setFrom(Number(e.target.value))}>
                {items.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version}
                  </option>
                ))}
              </LabeledSelect>
            <LabeledSelect label={t("builder.versions.to")} value={right} onChange={(e) => setTo(Number(e.target.value))}>
                {items.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version}
                  </option>
                ))}
              </LabeledSelect>
          </div>
          <p role="status">{t("builder.versions.stats", { added: stats.added, removed: stats.removed })}</p>
          <table className="diff">
            <caption className="visually-hidden">
              {t("builder.versions.diffCaption", { from: left, to: right })}
            </caption>
            <thead>
              <tr>
                <th scope="col">{t("builder.versions.oldLine")}</th>
                <th scope="col">{t("builder.versions.newLine")}</th>
                <th scope="col">{t("builder.versions.change")}</th>
                <th scope="col">{t("builder.versions.text")}</th>
              </tr>
            </thead>
            <tbody>
              {diff.map((line, index) => (
                <tr key={index} className={`diff-${line.kind}`}>
                  <td>{line.oldLine ?? ""}</td>
                  <td>{line.newLine ?? ""}</td>
                  <td>
                    {line.kind === "added" ? "+" : line.kind === "removed" ? "−" : ""}
                    <span className="visually-hidden">{t(`builder.versions.kinds.${line.kind}`)}</span>
                  </td>
                  <td>
                    <code>{line.text}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function VersionRow({ version, onLoad }: { version: ScenarioVersion; onLoad: (version: ScenarioVersion) => void }) {
  const { t, i18n } = useTranslation();
  const name = useUserName(version.created_by);
  const who = version.created_by === null ? t("builder.versions.system") : (name.data ?? version.created_by);
  return (
    <tr>
      <td>v{version.version}</td>
      <td>{new Date(version.created_at).toLocaleString(i18n.language)}</td>
      <td>{who}</td>
      <td>
        <button type="button" onClick={() => onLoad(version)}>
          {t("builder.versions.load", { version: version.version })}
        </button>
      </td>
    </tr>
  );
}
