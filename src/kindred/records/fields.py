"""Field and object definitions of the runtime data model, and per-type value checking.

Standard objects (accounts, contacts, …) and the custom objects admins define at run time are
described by the same ``ObjectDefinition``; the record service validates values with the
checkers built here, so one code path serves both.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Names the API uses for record envelopes; a field with one of these names would be ambiguous.
RESERVED_FIELD_NAMES = frozenset(
    {"id", "object", "version", "created_at", "updated_at", "created_by", "updated_by", "meta"}
)
# Keys of the responses around records: ``included`` sits beside a record's fields in GET,
# ``next_cursor`` and ``items`` beside lists. New fields may not take them (MetadataService);
# fields saved before they were reserved keep loading, so they are not in the check above.
ENVELOPE_NAMES = frozenset({"included", "next_cursor", "items"})
MAX_TEXT = 255
MAX_LONG_TEXT = 100_000


class FieldType(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    ENUM = "enum"
    MULTI_ENUM = "multi_enum"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    RELATION = "relation"
    JSON = "json"


# How each type is stored and compared in SQL: drives index expressions, filters and sorting.
SQL_KIND: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.LONG_TEXT: "text",
    FieldType.NUMBER: "number",
    FieldType.MONEY: "number",
    FieldType.PERCENT: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
    FieldType.BOOLEAN: "boolean",
    FieldType.ENUM: "text",
    FieldType.MULTI_ENUM: "list",
    FieldType.EMAIL: "text",
    FieldType.PHONE: "text",
    FieldType.URL: "text",
    FieldType.RELATION: "text",
    FieldType.JSON: "json",
}

INDEXABLE = frozenset(t for t, kind in SQL_KIND.items() if kind not in ("list", "json")) - {
    FieldType.LONG_TEXT
}


class SovereigntyClass(enum.StrEnum):
    """Who owns a field's data (consent enforcement reads this)."""

    ENTERPRISE_OWNED = "enterprise_owned"
    CUSTOMER_AUTHORIZED = "customer_authorized"
    THIRD_PARTY_SHARED = "third_party_shared"


class EnumOption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Annotated[str, Field(min_length=1, max_length=64)]
    label: str | None = None
    label_zh: str | None = None


class ValidationRule(BaseModel):
    """A CEL expression over ``record`` that must hold for a record to be saved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=IDENTIFIER.pattern)]
    expression: Annotated[str, Field(min_length=1, max_length=4096)]
    message: Annotated[str, Field(min_length=1, max_length=500)]
    # The field the message is shown against; "" for the whole record.
    path: str = ""


class FieldDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=IDENTIFIER.pattern)]
    type: FieldType
    label: str | None = None
    label_zh: str | None = None
    description: str | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    default: Any = None
    options: tuple[EnumOption, ...] = ()
    target: str | None = None  # relation: the object it points at
    cardinality: Literal["one", "many"] = "one"  # relation
    inverse_name: str | None = None  # relation: how the target lists these records
    max_length: int | None = Field(default=None, ge=1, le=MAX_LONG_TEXT)
    minimum: float | None = None
    maximum: float | None = None
    sovereignty: SovereigntyClass = SovereigntyClass.ENTERPRISE_OWNED
    standard: bool = False  # shipped with Kindred; cannot be deleted

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_FIELD_NAMES:
            raise ValueError(f"'{name}' is reserved for the record envelope")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> FieldDefinition:
        if self.type in (FieldType.ENUM, FieldType.MULTI_ENUM):
            if not self.options:
                raise ValueError(f"a {self.type.value} field needs at least one option")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("enum option values must be distinct")
        elif self.options:
            raise ValueError(f"options are only allowed on enum fields, not {self.type.value}")
        if self.type is FieldType.RELATION:
            if not self.target:
                raise ValueError("a relation field needs a target object")
        elif self.target:
            raise ValueError("target is only allowed on relation fields")
        if self.unique and (self.type not in INDEXABLE or self.type is FieldType.BOOLEAN):
            raise ValueError(f"a {self.type.value} field cannot be unique")
        if self.unique and self.type is FieldType.RELATION and self.cardinality == "many":
            raise ValueError("a to-many relation cannot be unique")
        if self.indexed and self.type not in INDEXABLE:
            raise ValueError(f"a {self.type.value} field cannot be indexed")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum must not exceed maximum")
        if self.default is not None:
            if self.type is FieldType.RELATION:
                raise ValueError("relation fields cannot have a default")
            try:
                build_checker(self)(self.default)
            except FieldValueError as error:
                raise ValueError(f"default: {error.message}") from None
        return self

    @property
    def sql_kind(self) -> str:
        if self.type is FieldType.RELATION and self.cardinality == "many":
            return "list"
        return SQL_KIND[self.type]

    @property
    def is_many_relation(self) -> bool:
        return self.type is FieldType.RELATION and self.cardinality == "many"

    @property
    def needs_index(self) -> bool:
        # A unique field's unique index already serves lookups and sorting; a second index
        # would only slow every write of the object down.
        return (
            self.indexed
            and not self.unique
            and self.type in INDEXABLE
            and not self.is_many_relation
        )


class ObjectDefinition(BaseModel):
    """A kind of record: its fields, validation rules and labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=IDENTIFIER.pattern)]
    label: str
    label_plural: str
    label_zh: str | None = None
    description: str | None = None
    standard: bool = False
    fields: tuple[FieldDefinition, ...] = ()
    validation_rules: tuple[ValidationRule, ...] = ()
    # Which field names the record in lists and search ("display name").
    title_field: str | None = None
    # A child object (order lines of an order): the required to-one relation to its parent.
    # Its records are visible exactly where their parent is; they have no scope of their own.
    parent: str | None = None
    version: int = 1

    @model_validator(mode="after")
    def _distinct_names(self) -> ObjectDefinition:
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate field names: {', '.join(duplicates)}")
        rule_names = [r.name for r in self.validation_rules]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("validation rule names must be distinct")
        if self.title_field and self.title_field not in names:
            raise ValueError(f"title_field '{self.title_field}' is not a field of this object")
        if self.parent is not None:
            link = self.field(self.parent)
            if link is None or link.type is not FieldType.RELATION or link.is_many_relation:
                raise ValueError(f"parent '{self.parent}' must be a to-one relation field")
            if not link.required:
                raise ValueError(f"parent '{self.parent}' must be required (a child needs one)")
            if link.target == self.name:
                raise ValueError("an object cannot be its own parent")
        return self

    def field(self, name: str) -> FieldDefinition | None:
        for field in self.fields:
            if field.name == name:
                return field
        return None

    @property
    def field_map(self) -> dict[str, FieldDefinition]:
        return {f.name: f for f in self.fields}


class FieldValueError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Checker = Callable[[Any], Any]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()\-.]{3,32}$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _string_checker(field: FieldDefinition, default_max: int) -> Checker:
    limit = field.max_length or default_max

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldValueError("type", f"expected a string, got {_type_name(value)}")
        if len(value) > limit:
            raise FieldValueError("max_length", f"at most {limit} characters (got {len(value)})")
        if "\x00" in value:
            raise FieldValueError("nul", NUL_MESSAGE)
        return value

    return check


def _number_checker(field: FieldDefinition, *, decimals: int | None) -> Checker:
    def check(value: Any) -> int | float:
        if isinstance(value, bool):
            raise FieldValueError("type", "expected a number, got boolean")
        if isinstance(value, str) and field.type is FieldType.MONEY:
            # Money arrives as a decimal string from spreadsheets and finance systems.
            try:
                value = Decimal(value)
            except InvalidOperation:
                raise FieldValueError("type", f"'{value}' is not a decimal amount") from None
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise FieldValueError("type", "amount must be finite")
            if decimals is not None and -value.as_tuple().exponent > decimals:  # type: ignore[operator]
                raise FieldValueError("precision", f"at most {decimals} decimal places")
            value = int(value) if value == value.to_integral_value() else float(value)
        if not isinstance(value, int | float):
            raise FieldValueError("type", f"expected a number, got {_type_name(value)}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise FieldValueError("type", "number must be finite")
            if decimals is not None and round(value, decimals) != value:
                raise FieldValueError("precision", f"at most {decimals} decimal places")
            if value.is_integer() and abs(value) < 2**53:
                value = int(value)
        if field.minimum is not None and value < field.minimum:
            raise FieldValueError("minimum", f"must be at least {field.minimum:g}")
        if field.maximum is not None and value > field.maximum:
            raise FieldValueError("maximum", f"must be at most {field.maximum:g}")
        return value

    return check


def _date_checker(value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise FieldValueError("type", "expected a date (YYYY-MM-DD), got a date-time")
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise FieldValueError("type", f"expected a date string YYYY-MM-DD, got {_type_name(value)}")
    try:
        return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: str) -> str:
    raise FieldValueError("format", f"'{value}' is not a date of the form YYYY-MM-DD")


def format_datetime(value: dt.datetime) -> str:
    # Fixed width (milliseconds, Z) so that string order equals time order in SQL.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


def _datetime_checker(value: Any) -> str:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise FieldValueError(
                "format", f"'{value}' is not an ISO 8601 date-time (e.g. 2026-01-31T09:30:00Z)"
            ) from None
    else:
        raise FieldValueError("type", f"expected an ISO 8601 date-time, got {_type_name(value)}")
    if parsed.tzinfo is None:
        raise FieldValueError("timezone", "date-time needs a timezone (Z or ±hh:mm)")
    return format_datetime(parsed)


def _boolean_checker(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldValueError("type", f"expected true or false, got {_type_name(value)}")
    return value


def _pattern_checker(field: FieldDefinition, pattern: re.Pattern[str], what: str) -> Checker:
    base = _string_checker(field, MAX_TEXT)

    def check(value: Any) -> str:
        text = base(value).strip()
        if not pattern.match(text):
            raise FieldValueError("format", f"'{text}' is not a valid {what}")
        return text.lower() if field.type is FieldType.EMAIL else text

    return check


def _enum_checker(field: FieldDefinition) -> Checker:
    allowed = [o.value for o in field.options]
    allowed_set = frozenset(allowed)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldValueError("type", f"expected one of {allowed}, got {_type_name(value)}")
        if value not in allowed_set:
            raise FieldValueError("enum", f"'{value}' is not one of {allowed}")
        return value

    return check


def _multi_enum_checker(field: FieldDefinition) -> Checker:
    one = _enum_checker(field)

    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise FieldValueError("type", f"expected an array, got {_type_name(value)}")
        result: list[str] = []
        for item in value:
            checked = one(item)
            if checked not in result:
                result.append(checked)
        return result

    return check


ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _relation_checker(field: FieldDefinition) -> Checker:
    def check_one(value: Any) -> str:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise FieldValueError(
                "type", f"expected the id of a {field.target} record, got {value!r}"
            )
        return value

    if field.cardinality == "one":
        return check_one

    def check_many(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise FieldValueError("type", f"expected an array of {field.target} ids")
        result: list[str] = []
        for item in value:
            checked = check_one(item)
            if checked not in result:
                result.append(checked)
        return result

    return check_many


def _json_checker(value: Any) -> Any:
    if _has_nul(value):
        raise FieldValueError("nul", NUL_MESSAGE)
    return value


# Neither dialect stores U+0000 in text (PostgreSQL refuses it in text and jsonb alike).
NUL_MESSAGE = "text may not contain the NUL character (U+0000)"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def build_checker(field: FieldDefinition) -> Checker:
    """A function that validates and normalizes one non-null value of ``field``."""
    match field.type:
        case FieldType.TEXT:
            return _string_checker(field, MAX_TEXT)
        case FieldType.LONG_TEXT:
            return _string_checker(field, MAX_LONG_TEXT)
        case FieldType.NUMBER:
            return _number_checker(field, decimals=None)
        case FieldType.MONEY:
            return _number_checker(field, decimals=4)
        case FieldType.PERCENT:
            return _number_checker(field, decimals=None)
        case FieldType.DATE:
            return _date_checker
        case FieldType.DATETIME:
            return _datetime_checker
        case FieldType.BOOLEAN:
            return _boolean_checker
        case FieldType.ENUM:
            return _enum_checker(field)
        case FieldType.MULTI_ENUM:
            return _multi_enum_checker(field)
        case FieldType.EMAIL:
            return _pattern_checker(field, EMAIL, "email address")
        case FieldType.PHONE:
            return _pattern_checker(field, PHONE, "phone number")
        case FieldType.URL:
            return _pattern_checker(field, URL, "http(s) URL")
        case FieldType.RELATION:
            return _relation_checker(field)
        case FieldType.JSON:
            return _json_checker
    raise AssertionError(field.type)  # pragma: no cover - the match is exhaustive
