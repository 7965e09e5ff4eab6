/**
 * The scenario builder (/scenarios/new, /scenarios/:name): WHEN / AND / THEN as forms, the THEN
 * chain as a flow, the YAML kept in sync both ways, live validation against the server, a dry
 * run, versions with a diff, save (If-Match) and enable/disable. Errors are shown at the part
 * of the definition they concern; nothing typed is lost on an error or a 412.
 */
import "../../styles/builder.css";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { ApiProblem } from "../../api/problem";
import { useObjects } from "../../api/queries";
import {
  scenarioKeys,
  useActions,
  useEventTypes,
  useEventTypeSchemas,
  useExamples,
  useScenario,
  useScenarioCalls,
  type Scenario,
  type ScenarioVersion,
} from "../../api/scenarios";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { mayUse } from "../../nav/navigation";
import { asArray, asText, blankDefinition, fromYaml, isObject, toYaml, whenOf, type Definition, type YamlProblem } from "../../scenario-builder/definition";
import { DefinitionErrors, PLACED } from "../../scenario-builder/errors";
import { lookupFields, mergeFields, schemaFields, windowFields } from "../../scenario-builder/fields";
import { useMe } from "../../session/SessionContext";
import { AndSection } from "./AndSection";
import { DryRunPanel } from "./DryRunPanel";
import { ErrorList } from "./ErrorList";
import { FlowView } from "./FlowView";
import { ThenSection } from "./ThenSection";
import { useValidation } from "./useValidation";
import { VersionsPanel } from "./VersionsPanel";
import { WhenSection } from "./WhenSection";
import { YamlPanel } from "./YamlPanel";

export default function ScenarioBuilderPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { name } = useParams();
  const [search] = useSearchParams();
  const example = search.get("example");
  const allowed = mayUse(me, "scenarios");
  const scenario = useScenario(allowed ? name : undefined);
  const examples = useExamples();
  const heading = name ? t("builder.editHeading", { name }) : t("builder.newHeading");
  useDocumentTitle(heading);

  if (!allowed) {
    return (
      <div className="scenario-builder">
        <h1>{t("builder.heading")}</h1>
        <p className="problem" role="alert">
          {t("builder.notAllowed", { roles: me.roles.join(", ") || "—" })}
        </p>
      </div>
    );
  }
  if (name && scenario.isError) {
    return (
      <div className="scenario-builder">
        <h1>{heading}</h1>
        <ProblemMessage error={scenario.error} />
      </div>
    );
  }
  if ((name && !scenario.data) || (example && examples.isPending)) {
    return (
      <div className="scenario-builder">
        <h1>{heading}</h1>
        <p role="status">{t("common.loading")}</p>
      </div>
    );
  }
  let initial: Definition = blankDefinition();
  if (scenario.data) {
    initial = scenario.data.scenario.definition as Definition;
  } else if (example) {
    const found = examples.data?.find((e) => e.name === example);
    if (found) {
      const copy = found.definition as Definition;
      initial = found.installed ? { ...copy, name: `${found.name}-copy`, title: `${found.title} (copy)` } : copy;
    }
  }
  return (
    <Builder
      key={name ?? `new:${example ?? ""}`}
      initial={initial}
      saved={scenario.data?.scenario ?? null}
      savedVersion={scenario.data?.version ?? null}
      heading={heading}
    />
  );
}

type Tab = "yaml" | "dryRun" | "versions";

/** Steps with problems, for the flow: `/then/0/with/x` → `/then/0`. */
function stepsWithErrors(errors: DefinitionErrors): Set<string> {
  const pointers = new Set<string>();
  for (const error of errors.all) {
    const step = /^(\/then\/\d+(?:\/(?:then|else|on_failure)\/\d+)*)/.exec(error.path);
    if (step?.[1]) pointers.add(step[1]);
  }
  return pointers;
}

function Builder({
  initial,
  saved: savedAtLoad,
  savedVersion: versionAtLoad,
  heading,
}: {
  initial: Definition;
  saved: Scenario | null;
  savedVersion: number | null;
  heading: string;
}) {
  const { t } = useTranslation();
  const calls = useScenarioCalls();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const [definition, setDefinition] = useState<Definition>(initial);
  const [yamlText, setYamlText] = useState(() => toYaml(initial));
  const [yamlProblems, setYamlProblems] = useState<YamlProblem[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [saved, setSaved] = useState<Scenario | null>(savedAtLoad);
  const [version, setVersion] = useState<number | null>(versionAtLoad);
  const [saving, setSaving] = useState(false);
  const [saveProblem, setSaveProblem] = useState<ApiProblem | null>(null);
  const [saveErrors, setSaveErrors] = useState<DefinitionErrors | null>(null);
  const [notice, setNotice] = useState<string | null>(() => {
    const state = location.state as { created?: number } | null;
    return state?.created ? t("builder.savedVersion", { version: state.created }) : null;
  });
  const [switchProblem, setSwitchProblem] = useState<unknown>(null);
  const [tab, setTab] = useState<Tab>("dryRun");

  const actions = useActions();
  const eventTypes = useEventTypes();
  const objects = useObjects();
  const when = whenOf(definition);
  const triggerTypes = asArray<string>(isObject(when.absence) ? when.absence.events : when.events).filter(
    (type) => typeof type === "string",
  );
  const schemas = useEventTypeSchemas(triggerTypes);

  const validation = useValidation(calls, definition, yamlProblems.length === 0);
  const errors = saveErrors ?? validation.errors;

  const eventFields = useMemo(
    () => mergeFields(...(schemas.data ?? []).map((detail) => (detail ? schemaFields(detail.schema, detail.type) : []))),
    [schemas.data],
  );
  const allFields = useMemo(() => {
    const lookups = asArray<unknown>(definition.lookups).flatMap((lookup) => {
      if (!isObject(lookup) || typeof lookup.name !== "string") return [];
      const object = (objects.data ?? []).find((o) => o.name === lookup.object);
      return lookupFields(lookup.name, object?.fields ?? []);
    });
    const windows = asArray<unknown>(definition.windows).flatMap((w) =>
      isObject(w) && typeof w.name === "string" ? [w.name] : [],
    );
    return mergeFields(eventFields, lookups, windowFields(windows));
  }, [eventFields, definition.lookups, definition.windows, objects.data]);

  // A change from the form: the YAML follows.
  const change = useCallback((next: Definition) => {
    setDefinition(next);
    setYamlText(toYaml(next));
    setYamlProblems([]);
    setSaveErrors(null);
    setNotice(null);
  }, []);

  // A change of the YAML: the form follows when it parses; otherwise it stays as it was.
  const changeYaml = useCallback((text: string) => {
    setYamlText(text);
    const read = fromYaml(text);
    if (read.ok) {
      setDefinition(read.value);
      setYamlProblems([]);
      setSaveErrors(null);
    } else {
      setYamlProblems(read.problems);
    }
  }, []);

  const dirty = saved === null || JSON.stringify(saved.definition) !== JSON.stringify(definition);

  const save = async (over: number | null = version) => {
    setSaving(true);
    setSaveProblem(null);
    setNotice(null);
    try {
      if (saved === null) {
        const created = await calls.create(definition);
        await queryClient.invalidateQueries({ queryKey: scenarioKeys.list });
        void navigate(`/scenarios/${created.name}`, { replace: true, state: { created: created.version } });
        return;
      }
      const updated = await calls.update(saved.name, definition, over ?? saved.version);
      setSaved(updated);
      setVersion(updated.version);
      setSaveErrors(null);
      setNotice(t("builder.savedVersion", { version: updated.version }));
      queryClient.setQueryData(scenarioKeys.one(updated.name), { scenario: updated, version: updated.version });
      await queryClient.invalidateQueries({ queryKey: scenarioKeys.versions(updated.name) });
      await queryClient.invalidateQueries({ queryKey: scenarioKeys.list, exact: true });
    } catch (error) {
      const problem = error instanceof ApiProblem ? error : null;
      setSaveProblem(problem);
      if (problem && problem.errors.length > 0) setSaveErrors(new DefinitionErrors(problem.errors));
    } finally {
      setSaving(false);
    }
  };

  const setEnabled = async (enabled: boolean) => {
    if (!saved) return;
    setSwitchProblem(null);
    try {
      const answer = await calls.setEnabled(saved.name, enabled);
      setSaved({ ...saved, enabled: answer.enabled, enabled_by: answer.enabled_by });
      setNotice(answer.enabled ? t("builder.enabledNow") : t("builder.disabledNow"));
      await queryClient.invalidateQueries({ queryKey: scenarioKeys.list, exact: true });
    } catch (error) {
      setSwitchProblem(error);
    }
  };

  const loadVersion = (old: ScenarioVersion) => {
    change(old.definition as Definition);
    setNotice(t("builder.versions.loaded", { version: old.version }));
  };

  const selectFromFlow = (pointer: string | null) => {
    setSelected(pointer);
    if (pointer) {
      window.requestAnimationFrame(() => {
        document.querySelector(`[data-pointer="${pointer}"]`)?.scrollIntoView({ block: "nearest" });
      });
    }
  };

  const conflict = saveProblem?.status === 412;
  const top = errors.outside(PLACED);
  const trigger = triggerTypes.join(", ");

  return (
    <div className="scenario-builder">
      <h1>{heading}</h1>
      <div className="builder-toolbar">
        <p className="validation-status" role="status" aria-live="polite">
          {yamlProblems.length > 0
            ? t("builder.status.yaml")
            : validation.status === "idle" || validation.status === "checking"
              ? t("builder.status.checking")
              : validation.status === "valid"
                ? t("builder.status.valid", { ms: Math.round(validation.ms ?? 0) })
                : validation.status === "invalid"
                  ? t("builder.status.invalid", { total: validation.errors.count, ms: Math.round(validation.ms ?? 0) })
                  : t("builder.status.failed")}
        </p>
        {saved && (
          <p className="scenario-state">
            {saved.enabled ? t("builder.state.enabled") : t("builder.state.disabled")}
            {" · "}
            {t("builder.state.version", { version: version ?? saved.version })}
            {dirty ? ` · ${t("builder.state.unsaved")}` : ""}
          </p>
        )}
        <div className="button-row">
          <button type="button" className="primary" onClick={() => void save()} disabled={saving || yamlProblems.length > 0}>
            {saving ? t("builder.saving") : t("builder.save")}
          </button>
          {saved && (
            <button type="button" onClick={() => void setEnabled(!saved.enabled)}>
              {saved.enabled ? t("builder.disable") : t("builder.enable")}
            </button>
          )}
          {saved && <Link to={`/operations/scenarios/${saved.name}`}>{t("builder.health")}</Link>}
          <Link to="/scenarios">{t("builder.backToList")}</Link>
        </div>
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {saved && dirty && saved.enabled && <p className="hint">{t("builder.enabledDraftHint")}</p>}
      {switchProblem !== null && <ProblemMessage error={switchProblem} />}
      {saveProblem && (
        <div className="problem" role="alert">
          {conflict ? (
            <>
              <p className="problem-title">{t("builder.conflict.title")}</p>
              <p>{t("builder.conflict.body", { version: saveProblem.currentVersion ?? "?" })}</p>
              <div className="button-row">
                <button type="button" onClick={() => void save(saveProblem.currentVersion)}>
                  {t("builder.conflict.overwrite")}
                </button>
                <button type="button" onClick={() => setTab("versions")}>
                  {t("builder.conflict.compare")}
                </button>
              </div>
            </>
          ) : (
            <>
              <p className="problem-title">{t("builder.notSaved")}</p>
              <p>
                {saveProblem.errors.length > 0
                  ? t("builder.notSavedPlaced", { total: saveProblem.errors.length })
                  : saveProblem.detail || saveProblem.title}
              </p>
            </>
          )}
        </div>
      )}
      {top.length > 0 && <ErrorList errors={top} />}

      <div className="builder-layout">
        <div className="builder-form">
          <section className="builder-section" aria-labelledby="basics-heading">
            <h2 id="basics-heading">{t("builder.basics.heading")}</h2>
            <label>
              <span>{t("builder.basics.title")}</span>
              <input value={asText(definition.title)} onChange={(e) => change({ ...definition, title: e.target.value })} />
            </label>
            <ErrorList errors={errors.under("/title")} />
            <label>
              <span>{t("builder.basics.name")}</span>
              <input
                value={asText(definition.name)}
                readOnly={saved !== null}
                aria-describedby="name-hint"
                onChange={(e) => change({ ...definition, name: e.target.value })}
              />
            </label>
            <span className="hint" id="name-hint">
              {saved ? t("builder.basics.nameFixed") : t("builder.basics.nameHint")}
            </span>
            <ErrorList errors={errors.under("/name")} />
            <label>
              <span>{t("builder.basics.description")}</span>
              <textarea
                rows={2}
                value={asText(definition.description)}
                onChange={(e) => change({ ...definition, description: e.target.value })}
              />
            </label>
            <ErrorList errors={errors.under("/description")} />
          </section>
          <WhenSection
            definition={definition}
            onChange={change}
            errors={errors}
            catalog={eventTypes.data ?? []}
            objects={objects.data ?? []}
            eventFields={eventFields}
          />
          <AndSection definition={definition} onChange={change} errors={errors} fields={allFields} />
          <section className="builder-section" aria-labelledby="then-heading">
            <h2 id="then-heading">
              <span className="keyword">{t("builder.then.keyword")}</span> {t("builder.then.heading")}
            </h2>
            <FlowView
              definition={definition}
              trigger={trigger}
              selected={selected}
              onSelect={selectFromFlow}
              withErrors={stepsWithErrors(errors)}
            />
            {actions.isError && <ProblemMessage error={actions.error} />}
            <ThenSection
              definition={definition}
              onChange={change}
              errors={errors}
              actions={actions.data ?? []}
              fields={allFields}
              selected={selected}
              onSelect={setSelected}
            />
          </section>
        </div>
        <aside className="builder-side" aria-label={t("builder.side")}>
          <Tabs tab={tab} onTab={setTab} hasVersions={saved !== null} />
          {/* Every panel stays mounted (hidden when not chosen): a dry run's sample is kept. */}
          <div role="tabpanel" id="panel-dryRun" aria-labelledby="tab-dryRun" className="tab-panel" hidden={tab !== "dryRun"}>
            <DryRunPanel
              definition={definition}
              types={triggerTypes}
              schemas={(schemas.data ?? []).flatMap((s) => (s ? [s] : []))}
              calls={calls}
            />
          </div>
          <div role="tabpanel" id="panel-yaml" aria-labelledby="tab-yaml" className="tab-panel" hidden={tab !== "yaml"}>
            <YamlPanel text={yamlText} onChange={changeYaml} problems={yamlProblems} errors={errors} />
          </div>
          {saved && (
            <div role="tabpanel" id="panel-versions" aria-labelledby="tab-versions" className="tab-panel" hidden={tab !== "versions"}>
              {tab === "versions" && <VersionsPanel name={saved.name} onLoad={loadVersion} />}
            </div>
          )}
        </aside>
      </div>
    </div>
  );
}

function Tabs({ tab, onTab, hasVersions }: { tab: Tab; onTab: (tab: Tab) => void; hasVersions: boolean }) {
  const { t } = useTranslation();
  const tabs: Tab[] = hasVersions ? ["dryRun", "yaml", "versions"] : ["dryRun", "yaml"];
  const move = (delta: number) => {
    const next = tabs[(tabs.indexOf(tab) + delta + tabs.length) % tabs.length] ?? tab;
    onTab(next);
    window.requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
  };
  return (
    <div role="tablist" aria-label={t("builder.side")} className="tabs">
      {tabs.map((name) => (
        <button
          key={name}
          type="button"
          role="tab"
          id={`tab-${name}`}
          aria-selected={tab === name}
          aria-controls={`panel-${name}`}
          tabIndex={tab === name ? 0 : -1}
          onClick={() => onTab(name)}
          onKeyDown={(e) => {
            if (e.key === "ArrowRight") move(1);
            if (e.key === "ArrowLeft") move(-1);
          }}
        >
          {t(`builder.tabs.${name}`)}
        </button>
      ))}
    </div>
  );
}
