/**
 * The definition as YAML, kept in sync both ways with the form: every form change rewrites
 * the text; every edit of the text that parses updates the form. Text that does not parse is
 * marked where it breaks and leaves the form as it was.
 */
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { yamlRange, type YamlProblem } from "../../scenario-builder/definition";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import { CodeEditor, type Marker } from "../../components/CodeEditor";

interface Props {
  text: string;
  onChange: (text: string) => void;
  problems: YamlProblem[];
  errors: DefinitionErrors;
}

export function YamlPanel({ text, onChange, problems, errors }: Props) {
  const { t } = useTranslation();
  const markers = useMemo<Marker[]>(() => {
    if (problems.length > 0) return problems;
    return errors.all.flatMap((error) => {
      const range = yamlRange(text, error.path);
      return range ? [{ from: range.from, to: range.to, message: `${error.path}: ${error.message}` }] : [];
    });
  }, [problems, errors, text]);
  return (
    <div className="yaml-panel">
      <p className="hint">{t("builder.yaml.hint")}</p>
      <CodeEditor
        value={text}
        onChange={onChange}
        language="yaml"
        label={t("builder.yaml.label")}
        markers={markers}
      />
      <div id="yaml-status" role="status" className={problems.length > 0 ? "yaml-status bad" : "yaml-status"}>
        {problems.length > 0 ? (
          <>
            <p>{t("builder.yaml.invalid")}</p>
            <ul className="field-errors">
              {problems.map((problem, index) => (
                <li key={index}>{problem.message}</li>
              ))}
            </ul>
          </>
        ) : (
          <p>{t("builder.yaml.inSync")}</p>
        )}
      </div>
    </div>
  );
}
