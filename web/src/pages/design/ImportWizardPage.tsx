/**
 * The CSV import wizard (/import): 1 upload, 2 preset or object, 3 column mapping with a
 * preview, 4 dry run, 5 import with a progress bar, 6 summary. What the user chose is kept in
 * one state object, so Back and Next never lose it; every API error is shown in the step it
 * concerns (a mapping error at its column's select).
 */
import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { ImportReport } from "../../api/design";
import { usePresets } from "../../api/design";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { EMPTY, STEPS, type Step, type WizardState } from "../../design/imports";
import { mayUse } from "../../nav/navigation";
import { useMe } from "../../session/SessionContext";
import "../../styles/design.css";
import { DryRunStep, ProgressStep, SummaryStep } from "./ImportResults";
import { MappingStep } from "./MappingStep";
import { TargetStep, UploadStep } from "./ImportStart";

export default function ImportWizardPage() {
  const { t } = useTranslation();
  const me = useMe();
  useDocumentTitle(t("design.import.heading"));
  const [step, setStep] = useState<Step>("upload");
  const [state, setState] = useState<WizardState>(EMPTY);
  const [dryRun, setDryRun] = useState<ImportReport | null>(null);
  const presets = usePresets();
  const heading = useRef<HTMLHeadingElement>(null);
  const headingId = useId();
  const first = useRef(true);

  // A new step: bring keyboard and screen-reader users to its heading.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    heading.current?.focus();
  }, [step]);

  if (!mayUse(me, "import")) {
    return (
      <>
        <h1>{t("design.import.deniedHeading")}</h1>
        <p>{t("design.import.denied")}</p>
      </>
    );
  }

  const index = STEPS.indexOf(step);
  const update = (changes: Partial<WizardState>) => {
    setState((previous) => ({ ...previous, ...changes }));
  };
  const go = (next: Step) => {
    setStep(next);
  };

  return (
    <div className="import-wizard">
      <h1>{t("design.import.heading")}</h1>
      <p className="muted">{t("design.import.intro")}</p>
      <ol className="wizard-steps" aria-label={t("design.import.stepsLabel")}>
        {STEPS.map((name, position) => (
          <li
            key={name}
            aria-current={name === step ? "step" : undefined}
            className={position < index ? "wizard-step done" : "wizard-step"}
          >
            <span className="wizard-step-number">{position + 1}</span> {t(`design.import.steps.${name}`)}
          </li>
        ))}
      </ol>
      <section className="wizard-panel" aria-labelledby={headingId}>
        <h2 id={headingId} ref={heading} tabIndex={-1}>
          {t("design.import.stepOf", {
            number: index + 1,
            count: STEPS.length,
            name: t(`design.import.steps.${step}`),
          })}
        </h2>
        {step === "upload" && (
          <UploadStep
            state={state}
            onUploaded={(changes) => {
              update(changes);
              setDryRun(null);
              go("target");
            }}
          />
        )}
        {step === "target" && (
          <TargetStep
            state={state}
            presets={presets.data ?? []}
            onChange={update}
            onBack={() => go("upload")}
            onNext={() => go("mapping")}
          />
        )}
        {step === "mapping" && (
          <MappingStep
            state={state}
            onChange={update}
            onBack={() => go("target")}
            onDryRun={(report) => {
              setDryRun(report);
              go("dryRun");
            }}
          />
        )}
        {step === "dryRun" && dryRun && (
          <DryRunStep
            state={state}
            report={dryRun}
            onChange={update}
            onBack={() => go("mapping")}
            onStarted={() => go("import")}
          />
        )}
        {step === "import" && state.jobId && (
          <ProgressStep jobId={state.jobId} objectName={state.object ?? ""} onFinished={() => go("summary")} />
        )}
        {step === "summary" && state.jobId && (
          <SummaryStep
            jobId={state.jobId}
            filename={state.filename}
            onAnother={() => {
              setState(EMPTY);
              setDryRun(null);
              go("upload");
            }}
          />
        )}
      </section>
    </div>
  );
}
