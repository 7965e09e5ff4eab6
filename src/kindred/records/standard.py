"""The standard objects Kindred ships: what a sales and service team needs on day one.

They are ordinary object definitions (marked ``standard``): admins extend them with custom
fields and rules exactly as they do custom objects, but cannot delete them or their standard
fields.
"""

from __future__ import annotations

from typing import Any

from kindred.records.fields import (
    EnumOption,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
    SovereigntyClass,
    ValidationRule,
)

CUSTOMER = SovereigntyClass.CUSTOMER_AUTHORIZED


def _options(*values: str | tuple[str, str, str]) -> tuple[EnumOption, ...]:
    options = []
    for value in values:
        if isinstance(value, tuple):
            options.append(EnumOption(value=value[0], label=value[1], label_zh=value[2]))
        else:
            options.append(EnumOption(value=value, label=value.replace("_", " ").capitalize()))
    return tuple(options)


def _field(name: str, type_: str, **kwargs: Any) -> FieldDefinition:
    if "options" in kwargs:
        kwargs["options"] = _options(*kwargs["options"])
    kwargs.setdefault("label", name.replace("_", " ").capitalize())
    return FieldDefinition(name=name, type=FieldType(type_), standard=True, **kwargs)


def _relation(name: str, target: str, **kwargs: Any) -> FieldDefinition:
    # Not expression-indexed: relation filters are answered from the indexed edge table.
    return _field(name, "relation", target=target, **kwargs)


def _object(
    name: str,
    label: str,
    plural: str,
    zh: str,
    fields: list[FieldDefinition],
    *,
    title: str,
    rules: tuple[ValidationRule, ...] = (),
    territorial: bool = True,
    parent: str | None = None,
) -> ObjectDefinition:
    # Not field-indexed: the records table keeps owner and territory in indexed columns.
    system = [_relation("owner", "user", label="Owner", label_zh="负责人", indexed=False)]
    if territorial:
        system.append(
            _relation("territory", "territory", label="Territory", label_zh="区域", indexed=False)
        )
    return ObjectDefinition(
        name=name,
        label=label,
        label_plural=plural,
        label_zh=zh,
        standard=True,
        fields=tuple(fields + system),
        validation_rules=rules,
        title_field=title,
        parent=parent,
    )


STAGES = (
    ("prospecting", "Prospecting", "初步接洽"),
    ("qualification", "Qualification", "需求确认"),
    ("proposal", "Proposal", "方案报价"),
    ("negotiation", "Negotiation", "商务谈判"),
    ("closed_won", "Closed won", "赢单"),
    ("closed_lost", "Closed lost", "输单"),
)

ROLES = ("admin", "sales", "service", "compliance", "analyst", "integration")

STANDARD_OBJECTS: tuple[ObjectDefinition, ...] = (
    _object(
        "user",
        "User",
        "Users",
        "用户",
        [
            _field("email", "email", required=True, unique=True),
            _field("name", "text", required=True),
            _field("roles", "multi_enum", options=ROLES, default=["sales"]),
            _relation("territories", "territory", cardinality="many"),
            _relation("team", "team"),
            _field(
                "skills",
                "multi_enum",
                options=(
                    "installation",
                    "repair",
                    "calibration",
                    "imaging",
                    "laboratory",
                    "retail",
                    "logistics",
                    "finance",
                ),
            ),
            _field("locale", "enum", options=("en", "zh-CN"), default="en"),
            _field("active", "boolean", default=True),
            # A service principal is no person: automation an admin grants it runs with its
            # roles (docs/security.md); it has no password and cannot sign in.
            _field("kind", "enum", options=("person", "service"), default="person"),
        ],
        title="name",
        territorial=False,
    ),
    _object(
        "team",
        "Team",
        "Teams",
        "团队",
        [_field("name", "text", required=True, unique=True), _field("description", "long_text")],
        title="name",
        territorial=False,
    ),
    _object(
        "territory",
        "Territory",
        "Territories",
        "区域",
        [
            _field("name", "text", required=True, unique=True),
            _field("code", "text", unique=True),
            _relation("parent", "territory"),
            _field("country", "text"),
        ],
        title="name",
        territorial=False,
    ),
    _object(
        "account",
        "Account",
        "Accounts",
        "客户",
        [
            _field("name", "text", required=True, indexed=True),
            _field(
                "kind",
                "enum",
                indexed=True,
                options=(
                    ("hospital", "Hospital", "医院"),
                    ("clinic", "Clinic", "诊所"),
                    ("store", "Store", "门店"),
                    ("distributor", "Distributor", "经销商"),
                    ("plant", "Plant", "电站/工厂"),
                    ("company", "Company", "企业"),
                ),
            ),
            _field("tier", "enum", options=("A", "B", "C", "D"), indexed=True),
            _field("industry", "text"),
            _field("tax_id", "text", unique=True),
            _field("annual_revenue", "money", minimum=0, indexed=True),
            _field("employees", "number", minimum=0),
            _field("phone", "phone"),
            _field("email", "email"),
            _field("website", "url"),
            _field("country", "text"),
            _field("province", "text"),
            _field("city", "text", indexed=True),
            _field("address", "text"),
            _field("insurance_qualified", "boolean"),
            _relation("parent_account", "account"),
            _field("external_ids", "json"),
            _field("description", "long_text"),
        ],
        title="name",
    ),
    _object(
        "contact",
        "Contact",
        "Contacts",
        "联系人",
        [
            _field("first_name", "text"),
            _field("last_name", "text", required=True, indexed=True),
            _field("full_name", "text", indexed=True),
            _field("email", "email", indexed=True, sovereignty=CUSTOMER),
            _field("phone", "phone", sovereignty=CUSTOMER),
            _field("mobile", "phone", sovereignty=CUSTOMER),
            _field("title", "text"),
            _field("department", "text"),
            _relation("account", "account", inverse_name="contacts"),
            _field("birthday", "date", sovereignty=CUSTOMER),
            _field("language", "enum", options=("en", "zh"), default="zh"),
            _field("wechat_openid", "text", unique=True, sovereignty=CUSTOMER),
            _field("did", "text", unique=True),
            _field("city", "text"),
            _field("address", "text", sovereignty=CUSTOMER),
            _field(
                "lifecycle",
                "enum",
                options=(
                    "subscriber",
                    "lead",
                    "customer",
                    "advocate",
                    "churned",
                ),
                default="lead",
            ),
        ],
        title="full_name",
    ),
    _object(
        "lead",
        "Lead",
        "Leads",
        "线索",
        [
            _field("name", "text", required=True),
            _field("company", "text", indexed=True),
            _field("email", "email", sovereignty=CUSTOMER),
            _field("phone", "phone", sovereignty=CUSTOMER),
            _field(
                "source",
                "enum",
                options=(
                    "web",
                    "event",
                    "referral",
                    "wechat",
                    "partner",
                    "cold_call",
                    "import",
                ),
            ),
            _field(
                "status",
                "enum",
                options=(
                    "new",
                    "working",
                    "qualified",
                    "converted",
                    "disqualified",
                ),
                default="new",
                indexed=True,
            ),
            _field("score", "number", minimum=0, maximum=100, indexed=True),
            _relation("converted_account", "account"),
            _relation("converted_contact", "contact"),
            _field("notes", "long_text"),
        ],
        title="name",
    ),
    _object(
        "purchase_intent",
        "Purchase intent",
        "Purchase intents",
        "采购意向",
        [
            _field("title", "text", required=True),
            _relation("account", "account", required=True, inverse_name="purchase_intents"),
            _relation("contact", "contact"),
            _relation("product", "product", required=True),
            _field("quantity", "number", required=True, minimum=1),
            _field("budget", "money", minimum=0),
            _field("needed_by", "date"),
            _field(
                "status",
                "enum",
                options=(
                    "new",
                    "reviewing",
                    "approved",
                    "rejected",
                    "converted",
                ),
                default="new",
                indexed=True,
            ),
            _field("notes", "long_text"),
        ],
        title="title",
    ),
    _object(
        "opportunity",
        "Opportunity",
        "Opportunities",
        "商机",
        [
            _field("name", "text", required=True),
            _relation("account", "account", required=True, inverse_name="opportunities"),
            _relation("contact", "contact"),
            _field("stage", "enum", options=STAGES, default="prospecting", indexed=True),
            _field("amount", "money", minimum=0, indexed=True),
            _field("currency", "enum", options=("CNY", "USD", "EUR"), default="CNY"),
            _field("probability", "percent", minimum=0, maximum=100),
            _field("close_date", "date", indexed=True),
            _field("lost_reason", "text"),
        ],
        title="name",
        rules=(
            ValidationRule(
                name="lost_needs_reason",
                expression=(
                    "record.stage != 'closed_lost' || "
                    "(has(record.lost_reason) && record.lost_reason != '')"
                ),
                message="A lost opportunity needs a lost reason.",
                path="/lost_reason",
            ),
        ),
    ),
    _object(
        "product",
        "Product",
        "Products",
        "产品",
        [
            _field("name", "text", required=True),
            _field("sku", "text", required=True, unique=True),
            _field(
                "family",
                "enum",
                options=(
                    "imaging",
                    "laboratory",
                    "monitoring",
                    "surgical",
                    "consumable",
                    "spare_part",
                    "inverter",
                    "battery",
                    "retail_goods",
                    "service_plan",
                ),
                indexed=True,
            ),
            _field("model", "text"),
            _field("list_price", "money", minimum=0),
            _field("active", "boolean", default=True),
            _relation("compatible_with", "product", cardinality="many"),
            _field("description", "long_text"),
        ],
        title="name",
        territorial=False,
    ),
    _object(
        "price_list",
        "Price list",
        "Price lists",
        "价目表",
        [
            _field("name", "text", required=True, unique=True),
            _field("currency", "enum", options=("CNY", "USD", "EUR"), default="CNY"),
            _field("valid_from", "date"),
            _field("valid_until", "date"),
            _field("active", "boolean", default=True),
        ],
        title="name",
        territorial=False,
        rules=(
            ValidationRule(
                name="valid_window",
                expression=(
                    "!has(record.valid_from) || !has(record.valid_until) || "
                    "record.valid_from <= record.valid_until"
                ),
                message="valid_until must not be before valid_from.",
                path="/valid_until",
            ),
        ),
    ),
    _object(
        "price_list_entry",
        "Price list entry",
        "Price list entries",
        "价目条目",
        [
            _relation("price_list", "price_list", required=True, inverse_name="entries"),
            _relation("product", "product", required=True),
            _field("unit_price", "money", required=True, minimum=0),
            _field("min_quantity", "number", minimum=1, default=1),
        ],
        title="unit_price",
        territorial=False,
    ),
    _object(
        "order",
        "Order",
        "Orders",
        "订单",
        [
            _field("number", "text", required=True, unique=True),
            _relation("account", "account", required=True, inverse_name="orders"),
            _relation("contact", "contact"),
            _relation("opportunity", "opportunity"),
            _field(
                "status",
                "enum",
                options=(
                    "draft",
                    "confirmed",
                    "shipped",
                    "delivered",
                    "cancelled",
                    "returned",
                ),
                default="draft",
                indexed=True,
            ),
            _field("channel", "enum", options=("direct", "distributor", "pos", "ecommerce")),
            _field("total", "money", minimum=0, indexed=True),
            _field("currency", "enum", options=("CNY", "USD", "EUR"), default="CNY"),
            _field("ordered_at", "datetime", indexed=True),
        ],
        title="number",
    ),
    _object(
        "order_line",
        "Order line",
        "Order lines",
        "订单行",
        [
            _relation("order", "order", required=True, inverse_name="lines"),
            _relation("product", "product", required=True),
            _field("quantity", "number", required=True, minimum=1),
            _field("unit_price", "money", required=True, minimum=0),
            _field("discount", "percent", minimum=0, maximum=100, default=0),
        ],
        title="quantity",
        territorial=False,
        parent="order",
    ),
    _object(
        "contract",
        "Contract",
        "Contracts",
        "合同",
        [
            _field("number", "text", required=True, unique=True),
            _relation("account", "account", required=True, inverse_name="contracts"),
            _field("kind", "enum", options=("sales", "service", "lease", "framework")),
            _field(
                "status",
                "enum",
                options=(
                    "draft",
                    "active",
                    "expired",
                    "terminated",
                    "renewed",
                ),
                default="draft",
                indexed=True,
            ),
            _field("start_date", "date", required=True),
            _field("end_date", "date", required=True, indexed=True),
            _field("renewal", "enum", options=("none", "manual", "automatic"), default="manual"),
            _field("renewal_notice_days", "number", minimum=0, default=60),
            _field("value", "money", minimum=0),
            _relation("products", "product", cardinality="many"),
        ],
        title="number",
        rules=(
            ValidationRule(
                name="end_after_start",
                expression="record.end_date >= record.start_date",
                message="end_date must not be before start_date.",
                path="/end_date",
            ),
        ),
    ),
    _object(
        "asset",
        "Asset",
        "Assets",
        "设备",
        [
            _field("serial_number", "text", required=True, unique=True),
            _field("name", "text"),
            _relation("product", "product", required=True),
            _relation("account", "account", required=True, inverse_name="assets"),
            _field(
                "status",
                "enum",
                options=(
                    "installed",
                    "in_service",
                    "faulty",
                    "retired",
                ),
                default="installed",
                indexed=True,
            ),
            _field("installed_on", "date"),
            _field("warranty_until", "date", indexed=True),
            _field("firmware", "text"),
            _field("last_heartbeat_at", "datetime"),
        ],
        title="serial_number",
    ),
    _object(
        "ticket",
        "Service ticket",
        "Service tickets",
        "服务工单",
        [
            _field("subject", "text", required=True),
            _field(
                "kind",
                "enum",
                options=(
                    ("incident", "Incident", "故障"),
                    ("work_order", "Work order", "工单"),
                    ("maintenance", "Maintenance", "保养"),
                    ("complaint", "Complaint", "投诉"),
                    ("request", "Request", "请求"),
                ),
                default="incident",
            ),
            _relation("account", "account", required=True, inverse_name="tickets"),
            _relation("contact", "contact"),
            _relation("asset", "asset", inverse_name="tickets"),
            _field(
                "priority",
                "enum",
                options=("low", "normal", "high", "urgent"),
                default="normal",
                indexed=True,
            ),
            _field(
                "status",
                "enum",
                options=(
                    "new",
                    "assigned",
                    "in_progress",
                    "waiting",
                    "resolved",
                    "closed",
                ),
                default="new",
                indexed=True,
            ),
            _field("opened_at", "datetime", indexed=True),
            _field("resolved_at", "datetime"),
            _field("description", "long_text"),
            _field("resolution", "long_text"),
        ],
        title="subject",
    ),
    _object(
        "activity",
        "Activity",
        "Activities",
        "活动",
        [
            _field(
                "kind",
                "enum",
                required=True,
                options=(
                    ("call", "Call", "电话"),
                    ("meeting", "Meeting", "会议"),
                    ("note", "Note", "备注"),
                    ("email", "Email", "邮件"),
                    ("message", "Message", "消息"),
                    ("visit", "Visit", "拜访"),
                    ("task", "Task", "任务"),
                ),
            ),
            _field("subject", "text", required=True),
            _field("body", "long_text"),
            _relation("account", "account", inverse_name="activities"),
            _relation("contact", "contact"),
            _relation("opportunity", "opportunity"),
            _relation("ticket", "ticket"),
            _field("occurred_at", "datetime", indexed=True),
            _field("due_at", "datetime"),
            _field("done", "boolean", default=False),
            _field("channel", "enum", options=("phone", "email", "wechat", "in_person", "app")),
        ],
        title="subject",
    ),
)

STANDARD_OBJECT_NAMES = frozenset(o.name for o in STANDARD_OBJECTS)
