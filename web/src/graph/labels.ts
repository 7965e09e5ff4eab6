/**
 * Names of what the graph shows, in the UI language: a record's title (its object's title
 * field, or why there is none), an object's label, an edge type's label. Withheld titles say
 * so; nothing the API left out is guessed.
 */
import type { GraphEdge } from "../api/graph";
import type { ObjectDefinition, RecordData } from "../api/types";
import type { Language } from "../i18n";
import { fieldLabel, objectLabel, withheldFields } from "../records/fields";
import { asText } from "../records/text";

export type RecordName =
  | { kind: "title"; text: string }
  | { kind: "withheld" }
  | { kind: "untitled"; shortId: string };

export function shortId(id: string): string {
  return id.slice(-8);
}

export function recordName(record: RecordData, object: ObjectDefinition | undefined): RecordName {
  const titleField = object?.title_field;
  if (titleField) {
    if (withheldFields(record).has(titleField) || !(titleField in record)) {
      return { kind: "withheld" };
    }
    const value = record[titleField];
    if (value !== null && value !== undefined && value !== "") {
      return { kind: "title", text: asText(value) };
    }
  }
  return { kind: "untitled", shortId: shortId(record.id) };
}

export function typeLabel(
  name: string,
  objects: ReadonlyMap<string, ObjectDefinition>,
  language: Language,
): string {
  const object = objects.get(name);
  return object ? objectLabel(object, language) : name;
}

/** `contact.account` → the field's label ("Account"), or the raw name when unknown. */
export function relationLabel(
  relation: string,
  objects: ReadonlyMap<string, ObjectDefinition>,
  language: Language,
): string {
  const [objectName = "", fieldName = ""] = relation.split(".");
  const field = objects.get(objectName)?.fields.find((f) => f.name === fieldName);
  return field ? fieldLabel(field, language) : relation;
}

export function edgeRelationLabel(
  edge: GraphEdge,
  objects: ReadonlyMap<string, ObjectDefinition>,
  language: Language,
): string {
  return relationLabel(edge.relation, objects, language);
}
