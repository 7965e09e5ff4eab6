/**
 * Scenarios: every scenario (latest version) with its state, owner and run-as principal and
 * last version; switch each on or off (the server's answer is shown); open it in the builder
 * or its health page; start a new one from blank or from a shipped example chain.
 */
import "../../styles/builder.css";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import {
  scenarioKeys,
  useExamples,
  useScenarioCalls,
  useScenarios,
  useUserName,
  type Scenario,
} from "../../api/scenarios";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { mayUse } from "../../nav/navigation";
import { useMe } from "../../session/SessionContext";
import { LabeledSelect } from "../scenario-builder/LabeledSelect";

export default function ScenariosPage() {
  const { t } = useTranslation();
  const me = useMe();
  useDocumentTitle(t("scenarios.heading"));
  if (!mayUse(me, "scenarios")) {
    return (
      <div className="scenario-builder">
        <h1>{t("scenarios.heading")}</h1>
        <p className="problem" role="alert">
          {t("builder.notAllowed", { roles: me.roles.join(", ") || "—" })}
        </p>
      </div>
    );
  }
  return <ScenarioList />;
}

function ScenarioList() {
  const { t } = useTranslation();
  const scenarios = useScenarios();
  const examples = useExamples();
  const calls = useScenarioCalls();
  const queryClient = useQueryClient();
  const [answer, setAnswer] = useState<{ name: string; text: string } | null>(null);
  const [problem, setProblem] = useState<{ name: string; error: unknown } | null>(null);
  const [example, setExample] = useState("");

  const toggle = async (scenario: Scenario) => {
    setAnswer(null);
    setProblem(null);
    try {
      const saved = await calls.setEnabled(scenario.name, !scenario.enabled);
      queryClient.setQueryData<Scenario[]>(scenarioKeys.list, (items) =>
        items?.map((item) => (item.name === saved.name ? saved : item)),
      );
      setAnswer({
        name: saved.name,
        text: saved.enabled
          ? t("builder.list.enabled", { title: saved.title })
          : t("builder.list.disabled", { title: saved.title }),
      });
    } catch (error) {
      setProblem({ name: scenario.name, error });
    }
  };

  return (
    <div className="scenario-builder">
      <h1>{t("scenarios.heading")}</h1>
      <p className="hint">{t("builder.list.intro")}</p>
      <div className="button-row list-actions">
        <Link className="button primary" to="/scenarios/new">
          {t("builder.list.new")}
        </Link>
        <LabeledSelect label={t("builder.list.example")} value={example} onChange={(e) => setExample(e.target.value)}>
            <option value="">{t("builder.list.chooseExample")}</option>
            {(examples.data ?? []).map((item) => (
              <option key={item.name} value={item.name}>
                {item.title}
              </option>
            ))}
          </LabeledSelect>
        {example ? (
          <Link className="button" to={`/scenarios/new?example=${encodeURIComponent(example)}`}>
            {t("builder.list.fromExample")}
          </Link>
        ) : null}
      </div>
      {answer && (
        <p className="notice" role="status">
          {answer.text}
        </p>
      )}
      {problem && (
        <div>
          <p className="field-error">{t("builder.list.switchFailed", { name: problem.name })}</p>
          <ProblemMessage error={problem.error} />
        </div>
      )}
      {scenarios.isPending && <p role="status">{t("common.loading")}</p>}
      {scenarios.isError && <ProblemMessage error={scenarios.error} />}
      {scenarios.data && scenarios.data.length === 0 && <p>{t("builder.list.empty")}</p>}
      {scenarios.data && scenarios.data.length > 0 && (
        <table className="scenario-table">
          <caption>{t("builder.list.caption", { total: scenarios.data.length })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("builder.list.name")}</th>
              <th scope="col">{t("builder.list.description")}</th>
              <th scope="col">{t("builder.list.state")}</th>
              <th scope="col">{t("builder.list.owner")}</th>
              <th scope="col">{t("builder.list.lastVersion")}</th>
              <th scope="col">{t("builder.list.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {scenarios.data.map((scenario) => (
              <ScenarioRow key={scenario.name} scenario={scenario} onToggle={() => void toggle(scenario)} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Person({ id }: { id: string | null }) {
  const { t } = useTranslation();
  const name = useUserName(id);
  if (id === null) return <>{t("builder.versions.system")}</>;
  return <>{name.data ?? id}</>;
}

function ScenarioRow({ scenario, onToggle }: { scenario: Scenario; onToggle: () => void }) {
  const { t, i18n } = useTranslation();
  const description = typeof scenario.definition.description === "string" ? scenario.definition.description : "";
  return (
    <tr>
      <td>
        <Link to={`/scenarios/${scenario.name}`}>{scenario.title}</Link>
        <br />
        <code className="muted">{scenario.name}</code>
      </td>
      <td className="description">{description}</td>
      <td>
        <span className={scenario.enabled ? "badge on" : "badge off"}>
          {scenario.enabled ? t("builder.state.enabled") : t("builder.state.disabled")}
        </span>
      </td>
      <td>
        {t("builder.list.ownerIs")} <Person id={scenario.owner} />
        <br />
        {t("builder.list.runsAs")} <Person id={scenario.run_as} />
      </td>
      <td>
        v{scenario.version}
        <br />
        <span className="muted">
          {new Date(scenario.updated_at).toLocaleString(i18n.language)} · <Person id={scenario.updated_by} />
        </span>
      </td>
      <td>
        <div className="button-row">
          <button type="button" onClick={onToggle}>
            {scenario.enabled
              ? t("builder.list.disable", { title: scenario.title })
              : t("builder.list.enable", { title: scenario.title })}
          </button>
          <Link to={`/operations/scenarios/${scenario.name}`}>{t("builder.list.health", { title: scenario.title })}</Link>
        </div>
      </td>
    </tr>
  );
}
