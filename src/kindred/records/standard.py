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

# Simplified Chinese labels for the console. A field or option takes its word from these
# shared tables unless its call below passes one (where the same name means something else).
FIELD_ZH = {
    "account": "客户",
    "active": "启用",
    "address": "地址",
    "amount": "金额",
    "annual_revenue": "年营业额",
    "asset": "设备",
    "birthday": "生日",
    "body": "内容",
    "budget": "预算",
    "channel": "渠道",
    "city": "城市",
    "close_date": "预计成交日期",
    "code": "编码",
    "company": "公司名称",
    "compatible_with": "兼容产品",
    "contact": "联系人",
    "converted_account": "转化客户",
    "converted_contact": "转化联系人",
    "country": "国家",
    "currency": "币种",
    "department": "部门",
    "description": "描述",
    "did": "DID 身份标识",
    "discount": "折扣",
    "done": "已完成",
    "due_at": "截止时间",
    "email": "邮箱",
    "employees": "员工人数",
    "end_date": "结束日期",
    "external_ids": "外部编号",
    "family": "产品系列",
    "firmware": "固件版本",
    "first_name": "名",
    "full_name": "姓名",
    "industry": "行业",
    "installed_on": "安装日期",
    "insurance_qualified": "医保定点资质",
    "kind": "类型",
    "language": "沟通语言",
    "last_heartbeat_at": "最近心跳时间",
    "last_name": "姓",
    "lifecycle": "生命周期阶段",
    "list_price": "标准价格",
    "locale": "界面语言",
    "lost_reason": "输单原因",
    "min_quantity": "起订量",
    "mobile": "手机",
    "model": "型号",
    "name": "名称",
    "needed_by": "需求日期",
    "notes": "备注",
    "number": "编号",
    "occurred_at": "发生时间",
    "opened_at": "开单时间",
    "opportunity": "商机",
    "order": "订单",
    "ordered_at": "下单时间",
    "parent": "上级",
    "parent_account": "上级客户",
    "phone": "电话",
    "price_list": "价目表",
    "priority": "优先级",
    "probability": "赢单概率",
    "product": "产品",
    "products": "产品",
    "province": "省份",
    "quantity": "数量",
    "renewal": "续约方式",
    "renewal_notice_days": "续约提醒天数",
    "resolution": "处理结果",
    "resolved_at": "解决时间",
    "roles": "角色",
    "score": "评分",
    "serial_number": "序列号",
    "skills": "技能",
    "sku": "SKU 编码",
    "source": "来源",
    "stage": "销售阶段",
    "start_date": "开始日期",
    "status": "状态",
    "subject": "主题",
    "tax_id": "统一社会信用代码",
    "team": "所属团队",
    "territories": "负责区域",
    "ticket": "服务工单",
    "tier": "客户等级",
    "title": "标题",
    "total": "订单总额",
    "unit_price": "单价",
    "valid_from": "生效日期",
    "valid_until": "失效日期",
    "value": "合同金额",
    "warranty_until": "保修截止日期",
    "website": "网站",
    "wechat_openid": "微信 OpenID",
}

OPTION_ZH = {
    # roles and skills
    "admin": "管理员",
    "sales": "销售",
    "service": "服务",
    "compliance": "合规",
    "analyst": "分析师",
    "integration": "系统集成",
    "installation": "安装",
    "repair": "维修",
    "calibration": "校准",
    "imaging": "影像",
    "laboratory": "检验",
    "retail": "零售",
    "logistics": "物流",
    "finance": "财务",
    # languages, currencies, tiers
    "en": "英文",
    "zh": "中文",
    "zh-CN": "简体中文",
    "CNY": "人民币",
    "USD": "美元",
    "EUR": "欧元",
    "A": "A 类",
    "B": "B 类",
    "C": "C 类",
    "D": "D 类",
    # contacts and leads
    "subscriber": "订阅者",
    "lead": "潜在客户",
    "customer": "客户",
    "advocate": "推荐者",
    "churned": "已流失",
    "web": "官网",
    "event": "市场活动",
    "referral": "转介绍",
    "wechat": "微信",
    "partner": "合作伙伴",
    "cold_call": "陌生电话",
    "import": "批量导入",
    # statuses
    "new": "新建",
    "working": "跟进中",
    "qualified": "合格",
    "disqualified": "不合格",
    "converted": "已转化",
    "reviewing": "审核中",
    "approved": "已批准",
    "rejected": "已拒绝",
    "draft": "草稿",
    "confirmed": "已确认",
    "shipped": "已发货",
    "delivered": "已签收",
    "cancelled": "已取消",
    "returned": "已退货",
    "active": "生效中",
    "expired": "已到期",
    "terminated": "已终止",
    "renewed": "已续约",
    "installed": "已安装",
    "in_service": "运行中",
    "faulty": "故障",
    "retired": "已报废",
    "assigned": "已分派",
    "in_progress": "处理中",
    "waiting": "等待中",
    "resolved": "已解决",
    "closed": "已关闭",
    # products
    "monitoring": "监护设备",
    "surgical": "手术器械",
    "consumable": "耗材",
    "spare_part": "备件",
    "inverter": "逆变器",
    "battery": "储能电池",
    "retail_goods": "零售商品",
    "service_plan": "服务套餐",
    # priorities, renewal, channels
    "low": "低",
    "normal": "普通",
    "high": "高",
    "urgent": "紧急",
    "none": "不续约",
    "manual": "手动续约",
    "automatic": "自动续约",
    "direct": "直销",
    "distributor": "经销商",
    "pos": "门店 POS",
    "ecommerce": "电商",
    "phone": "电话",
    "email": "邮件",
    "in_person": "当面拜访",
    "app": "移动应用",
    "person": "人员",
}

# An option is its value (labels from the value and OPTION_ZH), (value, label_zh) or
# (value, label, label_zh).
OptionSpec = str | tuple[str, str] | tuple[str, str, str]


def _english(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _option(spec: OptionSpec) -> EnumOption:
    if isinstance(spec, str):
        return EnumOption(value=spec, label=_english(spec), label_zh=OPTION_ZH.get(spec))
    if len(spec) == 2:
        return EnumOption(value=spec[0], label=_english(spec[0]), label_zh=spec[1])
    return EnumOption(value=spec[0], label=spec[1], label_zh=spec[2])


def _options(*values: OptionSpec) -> tuple[EnumOption, ...]:
    return tuple(_option(value) for value in values)


def _field(name: str, type_: str, **kwargs: Any) -> FieldDefinition:
    if "options" in kwargs:
        kwargs["options"] = _options(*kwargs["options"])
    kwargs.setdefault("label", _english(name))
    kwargs.setdefault("label_zh", FIELD_ZH.get(name))
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
            _field("name", "text", required=True, label_zh="姓名"),
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
            _field(
                "kind",
                "enum",
                label_zh="账号类型",
                options=("person", ("service", "服务账号")),
                default="person",
            ),
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
            _field("code", "text", unique=True, label_zh="区域编码"),
            _relation("parent", "territory", label_zh="上级区域"),
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
            _field("name", "text", required=True, indexed=True, label_zh="客户名称"),
            _field(
                "kind",
                "enum",
                label_zh="客户类型",
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
            _field("title", "text", label_zh="职务"),
            _field("department", "text"),
            _relation("account", "account", label_zh="所属客户", inverse_name="contacts"),
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
            _field("name", "text", required=True, label_zh="姓名"),
            _field("company", "text", indexed=True),
            _field("email", "email", sovereignty=CUSTOMER),
            _field("phone", "phone", sovereignty=CUSTOMER),
            _field("did", "text", unique=True),
            _field(
                "source",
                "enum",
                label_zh="线索来源",
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
            _field("name", "text", required=True, label_zh="商机名称"),
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
            _field("name", "text", required=True, label_zh="产品名称"),
            _field("sku", "text", required=True, unique=True),
            _field(
                "family",
                "enum",
                options=(
                    ("imaging", "影像设备"),
                    ("laboratory", "检验设备"),
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
            _field("active", "boolean", default=True, label_zh="在售"),
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
            _field("number", "text", required=True, unique=True, label_zh="订单编号"),
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
            _field(
                "channel",
                "enum",
                label_zh="销售渠道",
                options=("direct", "distributor", "pos", "ecommerce"),
            ),
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
            _field("number", "text", required=True, unique=True, label_zh="合同编号"),
            _relation("account", "account", required=True, inverse_name="contracts"),
            _field(
                "kind",
                "enum",
                label_zh="合同类型",
                options=(
                    ("sales", "销售合同"),
                    ("service", "服务合同"),
                    ("lease", "租赁合同"),
                    ("framework", "框架协议"),
                ),
            ),
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
            _field("name", "text", label_zh="设备名称"),
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
                label_zh="工单类型",
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
                label_zh="活动类型",
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
            _field(
                "channel",
                "enum",
                label_zh="沟通渠道",
                options=("phone", "email", "wechat", "in_person", "app"),
            ),
        ],
        title="subject",
    ),
)

STANDARD_OBJECT_NAMES = frozenset(o.name for o in STANDARD_OBJECTS)


def fill_missing_labels(
    stored: ObjectDefinition, shipped: ObjectDefinition
) -> tuple[ObjectDefinition, list[str]]:
    """``stored`` with the shipped Chinese labels where it has none (a database from before
    they shipped), and the paths filled. A label an admin set is never replaced."""
    filled: list[str] = []
    shipped_fields = {f.name: f for f in shipped.fields}

    def fill(item: Any, source: Any, path: str) -> Any:
        if item.label_zh is None and source is not None and source.label_zh is not None:
            filled.append(path)
            return item.model_copy(update={"label_zh": source.label_zh})
        return item

    fields = []
    for field in stored.fields:
        source = shipped_fields.get(field.name)
        if field.standard and source is not None:
            field = fill(field, source, field.name)
            shipped_options = {o.value: o for o in source.options}
            options = tuple(
                fill(o, shipped_options.get(o.value), f"{field.name}.{o.value}")
                for o in field.options
            )
            field = field.model_copy(update={"options": options})
        fields.append(field)
    updated = fill(stored, shipped, "label_zh")
    return updated.model_copy(update={"fields": tuple(fields)}), filled
