"""The reference knowledge base's demo documents (``--seed-demo``).

Compatibility reports, maintenance manuals and service bulletins, in Chinese and English,
about the demo ERP's spare parts (CT-TUBE-01, MRI-COIL-8, MRI-CH-2, US-PROBE-L12,
DR-DET-4343, PM-SPO2-03, XR-LAMP-24V, …) and the invented device models they go into
(Huaxin Medical 华欣医疗 ``HX-…`` systems and an older third-party ``MD-…`` range). Each
document's ``published`` is in days before the seeding day, so the demo stays current.

Two bulletins revise statements of earlier reports on purpose (``KB-SB-001``/``-002`` add
conditions to CT-TUBE-01 in the HX-CT 128 Pro, ``KB-SB-004`` to PM-SPO2-03 on the HX-PM 12),
so the newest source wins in ``/api/compatibility``.
"""

from __future__ import annotations

from typing import Any

COMPATIBLE = "compatible"
CONDITIONS = "compatible_with_conditions"
INCOMPATIBLE = "incompatible"

DEMO_DOCUMENTS: tuple[dict[str, Any], ...] = (
    # -- compatibility reports ----------------------------------------------------------------
    {
        "id": "KB-CR-001",
        "title": "CT-TUBE-01 球管与 HX-CT 系列 CT 兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["CT-TUBE-01", "HX-CT 64", "HX-CT 128 Pro", "MD-CT 16"],
        "version": "2.0",
        "published": 420,
        "body": (
            "本报告说明 CT-TUBE-01 球管组件（阳极热容量 5.3 MHU）与各型号 CT 的兼容性。"
            "HX-CT 64 为原厂配套机型，球管可直接更换，更换后按维修手册完成球管预热校准。"
            "HX-CT 128 Pro 兼容，但机架固件须为 4.2 及以上版本，安装后须重新进行空气校准和"
            "剂量校准。MD-CT 16 的球管安装法兰和高压插座与 CT-TUBE-01 不同，且其发生器功率"
            "不足以驱动 5.3 MHU 球管，不兼容，不得改装使用。"
        ),
        "compatibility": [
            {"model": "CT-TUBE-01", "with": "HX-CT 64", "verdict": COMPATIBLE},
            {
                "model": "CT-TUBE-01",
                "with": "HX-CT 128 Pro",
                "verdict": CONDITIONS,
                "conditions": "机架固件须为 4.2 及以上版本；安装后重新进行空气校准和剂量校准。",
            },
            {
                "model": "CT-TUBE-01",
                "with": "MD-CT 16",
                "verdict": INCOMPATIBLE,
                "conditions": "安装法兰、高压插座及发生器功率均不匹配。",
            },
        ],
    },
    {
        "id": "KB-CR-002",
        "title": "Compatibility report: CT-TUBE-01 X-ray tube with HX-CT scanners",
        "kind": "compatibility_report",
        "language": "en",
        "models": ["CT-TUBE-01", "HX-CT 64", "HX-CT 128 Pro", "MD-CT 16"],
        "version": "2.0",
        "published": 420,
        "body": (
            "This report states which CT scanners accept the CT-TUBE-01 X-ray tube assembly "
            "(5.3 MHU anode heat capacity). The HX-CT 64 is the tube's native scanner: the tube "
            "is a direct replacement, followed by the tube warm-up and seasoning calibration "
            "described in the maintenance manual. The HX-CT 128 Pro accepts the tube provided "
            "the gantry firmware is 4.2 or later; air calibration and dose calibration must be "
            "repeated after installation. The MD-CT 16 has a different mounting flange and "
            "high-voltage receptacle and its generator cannot drive a 5.3 MHU tube: the tube is "
            "incompatible and must not be adapted."
        ),
        "compatibility": [
            {"model": "CT-TUBE-01", "with": "HX-CT 64", "verdict": COMPATIBLE},
            {
                "model": "CT-TUBE-01",
                "with": "HX-CT 128 Pro",
                "verdict": CONDITIONS,
                "conditions": "Gantry firmware 4.2 or later; repeat air and dose calibration "
                "after installation.",
            },
            {
                "model": "CT-TUBE-01",
                "with": "MD-CT 16",
                "verdict": INCOMPATIBLE,
                "conditions": "Mounting flange, HV receptacle and generator power do not match.",
            },
        ],
    },
    {
        "id": "KB-CR-003",
        "title": "MRI-COIL-8 八通道头部线圈兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["MRI-COIL-8", "HX-MR 1.5T Aura", "HX-MR 3.0T Vista"],
        "version": "1.3",
        "published": 610,
        "body": (
            "MRI-COIL-8 为 1.5 T 八通道头部线圈，谐振频率 63.9 MHz。HX-MR 1.5T Aura 即插即用，"
            "系统自动识别线圈并加载序列参数。HX-MR 3.0T Vista 工作频率为 127.7 MHz，该线圈"
            "无法调谐，不兼容；3.0 T 系统请选用专用头线圈。使用前检查线圈接口锁扣和电缆外皮。"
        ),
        "compatibility": [
            {"model": "MRI-COIL-8", "with": "HX-MR 1.5T Aura", "verdict": COMPATIBLE},
            {
                "model": "MRI-COIL-8",
                "with": "HX-MR 3.0T Vista",
                "verdict": INCOMPATIBLE,
                "conditions": "1.5 T 线圈（63.9 MHz）不能用于 3.0 T 系统（127.7 MHz）。",
            },
        ],
    },
    {
        "id": "KB-CR-004",
        "title": "MRI-COIL-8 8-channel head coil compatibility",
        "kind": "compatibility_report",
        "language": "en",
        "models": ["MRI-COIL-8", "HX-MR 1.5T Aura", "HX-MR 3.0T Vista"],
        "version": "1.3",
        "published": 610,
        "body": (
            "The MRI-COIL-8 is a 1.5 T eight-channel head coil tuned to 63.9 MHz. On the "
            "HX-MR 1.5T Aura it is plug and play: the system recognises the coil and loads its "
            "sequence parameters. The HX-MR 3.0T Vista operates at 127.7 MHz, which the coil "
            "cannot be tuned to; it is incompatible, use the dedicated 3 T head coil. Inspect "
            "the connector latch and the cable jacket before every use."
        ),
        "compatibility": [
            {"model": "MRI-COIL-8", "with": "HX-MR 1.5T Aura", "verdict": COMPATIBLE},
            {
                "model": "MRI-COIL-8",
                "with": "HX-MR 3.0T Vista",
                "verdict": INCOMPATIBLE,
                "conditions": "A 1.5 T coil (63.9 MHz) cannot be used on a 3 T system (127.7 MHz).",
            },
        ],
    },
    {
        "id": "KB-CR-005",
        "title": "MRI-CH-2 冷头与磁体制冷系统兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["MRI-CH-2", "HX-MR 1.5T Aura", "HX-MR 3.0T Vista"],
        "version": "1.1",
        "published": 380,
        "body": (
            "MRI-CH-2 冷头适用于 HX-MR 3.0T Vista，可直接更换。用于 HX-MR 1.5T Aura 时，须配套"
            " HC-9 或更新型号的氦压缩机，并同时更换压缩机吸附器；旧款 HC-7 压缩机供气压力不足，"
            "会导致液氦挥发加快。更换冷头须由持证工程师在磁体不失超的条件下完成。"
        ),
        "compatibility": [
            {"model": "MRI-CH-2", "with": "HX-MR 3.0T Vista", "verdict": COMPATIBLE},
            {
                "model": "MRI-CH-2",
                "with": "HX-MR 1.5T Aura",
                "verdict": CONDITIONS,
                "conditions": "须配套 HC-9 或更新型号的氦压缩机，并同时更换吸附器。",
            },
        ],
    },
    {
        "id": "KB-CR-006",
        "title": "US-PROBE-L12 linear transducer compatibility report",
        "kind": "compatibility_report",
        "language": "en",
        "models": ["US-PROBE-L12", "HX-US E9", "HX-US P5"],
        "version": "3.0",
        "published": 300,
        "body": (
            "The US-PROBE-L12 (L12-3) linear transducer is supported on the HX-US E9 cart "
            "system with all presets (vascular, small parts, musculoskeletal). On the HX-US P5 "
            "portable system it requires software V3.1 or later and the PA-2 probe adapter; "
            "elastography is not available on the P5. Older P5 software does not list the probe."
        ),
        "compatibility": [
            {"model": "US-PROBE-L12", "with": "HX-US E9", "verdict": COMPATIBLE},
            {
                "model": "US-PROBE-L12",
                "with": "HX-US P5",
                "verdict": CONDITIONS,
                "conditions": "Software V3.1 or later and the PA-2 probe adapter; no elastography.",
            },
        ],
    },
    {
        "id": "KB-CR-007",
        "title": "US-PROBE-L12 线阵探头兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["US-PROBE-L12", "HX-US E9", "HX-US P5"],
        "version": "3.0",
        "published": 300,
        "body": (
            "US-PROBE-L12（L12-3）线阵探头在 HX-US E9 台式超声上支持全部预设（血管、小器官、"
            "肌骨）。在 HX-US P5 便携超声上使用须升级软件至 V3.1 及以上并配 PA-2 探头转接器，"
            "且不支持弹性成像。旧版软件的探头列表中不显示该探头。"
        ),
        "compatibility": [
            {"model": "US-PROBE-L12", "with": "HX-US E9", "verdict": COMPATIBLE},
            {
                "model": "US-PROBE-L12",
                "with": "HX-US P5",
                "verdict": CONDITIONS,
                "conditions": "软件 V3.1 及以上并配 PA-2 探头转接器；不支持弹性成像。",
            },
        ],
    },
    {
        "id": "KB-CR-008",
        "title": "DR-DET-4343 平板探测器兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["DR-DET-4343", "HX-DR 580", "HX-DR 320M"],
        "version": "2.2",
        "published": 270,
        "body": (
            "DR-DET-4343 为 43×43 cm 无线平板探测器。HX-DR 580 固定式 DR 兼容，支持有线和无线"
            "两种模式。HX-DR 320M 移动式 DR 仅支持无线模式，须加配 BK-43 电池组并在工作站中"
            "完成探测器注册与增益校准。"
        ),
        "compatibility": [
            {"model": "DR-DET-4343", "with": "HX-DR 580", "verdict": COMPATIBLE},
            {
                "model": "DR-DET-4343",
                "with": "HX-DR 320M",
                "verdict": CONDITIONS,
                "conditions": "仅无线模式；须加配 BK-43 电池组并完成探测器注册与增益校准。",
            },
        ],
    },
    {
        "id": "KB-CR-009",
        "title": "PM-SPO2-03 SpO2 sensor compatibility with patient monitors",
        "kind": "compatibility_report",
        "language": "en",
        "models": ["PM-SPO2-03", "HX-PM 12", "HX-PM 15", "MD-PM 8"],
        "version": "1.0",
        "published": 500,
        "body": (
            "The PM-SPO2-03 reusable adult finger sensor works with the HX-PM 12 and HX-PM 15 "
            "patient monitors through the standard 7-pin SpO2 interface; accuracy was verified "
            "at 70–100 % saturation. The MD-PM 8 uses a different oximetry algorithm and "
            "connector, and the sensor is incompatible with it."
        ),
        "compatibility": [
            {"model": "PM-SPO2-03", "with": "HX-PM 12", "verdict": COMPATIBLE},
            {"model": "PM-SPO2-03", "with": "HX-PM 15", "verdict": COMPATIBLE},
            {
                "model": "PM-SPO2-03",
                "with": "MD-PM 8",
                "verdict": INCOMPATIBLE,
                "conditions": "Different oximetry algorithm and connector.",
            },
        ],
    },
    {
        "id": "KB-CR-010",
        "title": "XR-LAMP-24V 限束器灯泡兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["XR-LAMP-24V", "HX-DR 580", "HX-DR 320M"],
        "version": "1.0",
        "published": 720,
        "body": (
            "XR-LAMP-24V 为 24 V 150 W 卤素灯泡，用于 HX-DR 580 限束器的照射野指示灯，可直接"
            "更换。HX-DR 320M 限束器采用 12 V LED 光源模块，灯座与电压均不同，不兼容。"
        ),
        "compatibility": [
            {"model": "XR-LAMP-24V", "with": "HX-DR 580", "verdict": COMPATIBLE},
            {
                "model": "XR-LAMP-24V",
                "with": "HX-DR 320M",
                "verdict": INCOMPATIBLE,
                "conditions": "HX-DR 320M 使用 12 V LED 光源模块，灯座与电压均不同。",
            },
        ],
    },
    # -- maintenance manuals ------------------------------------------------------------------
    {
        "id": "KB-MM-001",
        "title": "HX-CT 64 球管更换与预热校准维修手册",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["HX-CT 64", "CT-TUBE-01"],
        "version": "4.1",
        "published": 540,
        "body": (
            "一、准备：断开主电源并挂牌上锁，等待高压电容放电至少 15 分钟，准备扭力扳手和绝缘"
            "油接收盘。二、拆卸：拆下机架后盖，断开高压电缆和冷却油管，用专用吊具取下旧球管。"
            "三、安装：安装 CT-TUBE-01 新球管，按 25 N·m 紧固法兰螺栓，连接高压电缆并检查密封。"
            "四、预热校准：运行球管预热程序（seasoning），由低千伏逐级升至 140 kV，随后完成空气"
            "校准和剂量校准。五、保养周期：每 6 个月检查冷却油位和风扇，每 12 个月检查高压电缆。"
        ),
    },
    {
        "id": "KB-MM-002",
        "title": "HX-CT 128 Pro preventive maintenance manual",
        "kind": "maintenance_manual",
        "language": "en",
        "models": ["HX-CT 128 Pro", "CT-TUBE-01", "CT-BRUSH-KIT"],
        "version": "2.3",
        "published": 460,
        "body": (
            "Preventive maintenance of the HX-CT 128 Pro every six months: clean the gantry "
            "air filters, inspect the slip ring and replace worn carbon brushes (CT-BRUSH-KIT) "
            "when shorter than 8 mm, check the tube oil level and the heat exchanger fans, and "
            "run the daily quality assurance phantom scan. Yearly: inspect the high-voltage "
            "cables and connectors, verify dose output against the reference, and update the "
            "gantry firmware (4.2 or later is required before fitting a CT-TUBE-01 tube). "
            "After any tube replacement run the tube seasoning and calibration procedure."
        ),
    },
    {
        "id": "KB-MM-003",
        "title": "CT 滑环碳刷更换保养规程",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["CT-BRUSH-KIT", "HX-CT 64", "HX-CT 128 Pro"],
        "version": "1.4",
        "published": 350,
        "body": (
            "滑环碳刷是 CT 机架旋转供电的易损件。保养要求：每 3 个月测量碳刷长度，短于 8 mm 时"
            "整套更换 CT-BRUSH-KIT；更换时用无水乙醇清洁滑环表面，禁止使用砂纸；安装后低速"
            "旋转机架 30 分钟磨合，检查碳粉堆积和打火痕迹。异常磨损通常提示滑环偏心，应报修。"
        ),
    },
    {
        "id": "KB-MM-004",
        "title": "HX-MR 1.5T Aura 冷头更换与磁体保养手册",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["HX-MR 1.5T Aura", "MRI-CH-2"],
        "version": "3.0",
        "published": 330,
        "body": (
            "磁体保养：每日记录液氦液位和磁体压力，每季度检查冷水机组水温与流量。冷头更换："
            "确认氦压缩机为 HC-9 或更新型号，关闭压缩机后在 30 分钟内完成 MRI-CH-2 冷头更换，"
            "同时更换吸附器；恢复运行后 24 小时内液氦挥发率应回到每小时 0.03 升以下。"
            "禁止在失超风险未排除时拆装冷头。"
        ),
    },
    {
        "id": "KB-MM-005",
        "title": "HX-MR 3.0T Vista cryogenic system maintenance",
        "kind": "maintenance_manual",
        "language": "en",
        "models": ["HX-MR 3.0T Vista", "MRI-CH-2"],
        "version": "2.0",
        "published": 290,
        "body": (
            "Log the helium level and magnet pressure daily. Service the helium compressor "
            "every 10,000 hours: replace the adsorber and check the supply and return "
            "pressures. The MRI-CH-2 cold head is replaced with the compressor stopped; "
            "complete the swap within 30 minutes to limit boil-off. A cold head that knocks or "
            "whose second stage warms above 4.5 K needs replacement."
        ),
    },
    {
        "id": "KB-MM-006",
        "title": "超声探头清洁消毒与日常保养指南",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["US-PROBE-L12", "US-PROBE-C5", "HX-US E9", "HX-US P5"],
        "version": "2.1",
        "published": 240,
        "body": (
            "每次检查后用软布擦去耦合剂，使用经认证的消毒湿巾进行低水平消毒；腔内或术中使用"
            "须高水平消毒。禁止高温高压灭菌和酒精长时间浸泡探头声透镜。每月检查探头电缆、"
            "连接器插针和声透镜有无裂纹；图像出现暗带通常是晶片损坏，应停止使用并报修。"
        ),
    },
    {
        "id": "KB-MM-007",
        "title": "Ultrasound transducer care and cleaning",
        "kind": "maintenance_manual",
        "language": "en",
        "models": ["US-PROBE-L12", "US-PROBE-C5", "HX-US E9", "HX-US P5"],
        "version": "2.1",
        "published": 240,
        "body": (
            "After each exam wipe off the gel with a soft cloth and apply an approved "
            "low-level disinfectant wipe; endocavity and intraoperative use requires "
            "high-level disinfection. Never autoclave a transducer or soak the acoustic lens "
            "in alcohol. Inspect cables, connector pins and the lens for cracks monthly; dark "
            "bands in the image usually mean damaged elements — stop using the probe."
        ),
    },
    {
        "id": "KB-MM-008",
        "title": "HX-DR 580 平板探测器校准与保养",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["HX-DR 580", "DR-DET-4343"],
        "version": "1.6",
        "published": 200,
        "body": (
            "DR-DET-4343 平板探测器每周进行暗场校准，每 6 个月进行增益校准和坏点校准。避免"
            "跌落和局部重压，患者承重不得超过 150 kg。无线模式下每日检查电池电量和无线信号"
            "强度；图像出现伪影时先执行暗场校准，仍不能消除则联系工程师。"
        ),
    },
    {
        "id": "KB-MM-009",
        "title": "Patient monitor SpO2 sensor maintenance and troubleshooting",
        "kind": "maintenance_manual",
        "language": "en",
        "models": ["PM-SPO2-03", "HX-PM 12", "HX-PM 15"],
        "version": "1.2",
        "published": 150,
        "body": (
            "Clean the PM-SPO2-03 sensor between patients with a 70 % isopropyl wipe and let it "
            "dry; do not immerse the connector. Replace the sensor when the cable is cracked or "
            "readings drift. Troubleshooting: no pulse wave — check finger placement and "
            "ambient light; low perfusion index — warm the patient's hand; 'sensor fault' — "
            "reseat the 7-pin connector and try a second sensor before calling service."
        ),
    },
    {
        "id": "KB-MM-010",
        "title": "限束器灯泡更换作业指导书",
        "kind": "maintenance_manual",
        "language": "zh",
        "models": ["XR-LAMP-24V", "HX-DR 580"],
        "version": "1.0",
        "published": 690,
        "body": (
            "适用于 HX-DR 580 限束器。断电并等待灯泡冷却 10 分钟，拆下限束器前盖，戴手套取出"
            "旧灯泡，安装 XR-LAMP-24V 新灯泡，切勿用手直接触摸玻璃壳。装回前盖后检查照射野"
            "指示灯与 X 线野的一致性，偏差不应超过源像距的 2%。"
        ),
    },
    # -- service bulletins --------------------------------------------------------------------
    {
        "id": "KB-SB-001",
        "title": "服务通告：HX-CT 128 Pro 早期机型更换球管前须检查高压电缆",
        "kind": "service_bulletin",
        "language": "zh",
        "models": ["HX-CT 128 Pro", "CT-TUBE-01"],
        "version": "1.0",
        "published": 60,
        "body": (
            "2026 年以前出厂（序列号 CT128-25 开头）的 HX-CT 128 Pro，在安装 CT-TUBE-01 球管前"
            "须检查并更换高压电缆（部件 HV-CAB-75），否则可能出现高压打火。本通告补充并取代"
            "兼容性报告 KB-CR-001 中对该机型的安装条件。"
        ),
        "compatibility": [
            {
                "model": "CT-TUBE-01",
                "with": "HX-CT 128 Pro",
                "verdict": CONDITIONS,
                "conditions": "机架固件须为 4.2 及以上版本；序列号 CT128-25 开头的机型须先更换"
                "高压电缆 HV-CAB-75；安装后重新进行空气校准和剂量校准。",
            }
        ],
    },
    {
        "id": "KB-SB-002",
        "title": "Service bulletin: HX-CT 128 Pro early units need an HV cable check before a "
        "tube replacement",
        "kind": "service_bulletin",
        "language": "en",
        "models": ["HX-CT 128 Pro", "CT-TUBE-01"],
        "version": "1.0",
        "published": 60,
        "body": (
            "HX-CT 128 Pro scanners built before 2026 (serial numbers starting CT128-25) must "
            "have the high-voltage cable (part HV-CAB-75) inspected and replaced before a "
            "CT-TUBE-01 tube is fitted, to prevent high-voltage arcing. This bulletin amends "
            "the installation conditions for this scanner in report KB-CR-002."
        ),
        "compatibility": [
            {
                "model": "CT-TUBE-01",
                "with": "HX-CT 128 Pro",
                "verdict": CONDITIONS,
                "conditions": "Gantry firmware 4.2 or later; units with serial numbers "
                "starting CT128-25 first need the HV-CAB-75 high-voltage cable; repeat air and "
                "dose calibration after installation.",
            }
        ],
    },
    {
        "id": "KB-SB-003",
        "title": "Service bulletin: MRI-COIL-8 connector latch inspection",
        "kind": "service_bulletin",
        "language": "en",
        "models": ["MRI-COIL-8", "HX-MR 1.5T Aura"],
        "version": "1.0",
        "published": 120,
        "body": (
            "Coils of lots 2403 to 2407 may have a weak connector latch that lets the plug "
            "back out during table movement, which interrupts the scan. Inspect the latch; if "
            "it does not click, order the replacement latch kit free of charge. Coils outside "
            "these lots are not affected."
        ),
    },
    {
        "id": "KB-SB-004",
        "title": "服务通告：PM-SPO2-03 血氧探头与 HX-PM 12 旧版软件的灌注指数显示问题",
        "kind": "service_bulletin",
        "language": "zh",
        "models": ["PM-SPO2-03", "HX-PM 12"],
        "version": "1.0",
        "published": 90,
        "body": (
            "软件版本低于 V2.1 的 HX-PM 12 监护仪在连接 PM-SPO2-03 血氧探头时灌注指数显示偏低，"
            "血氧饱和度读数不受影响。请将监护仪软件升级至 V2.1 或更高版本后再使用该探头。"
        ),
        "compatibility": [
            {
                "model": "PM-SPO2-03",
                "with": "HX-PM 12",
                "verdict": CONDITIONS,
                "conditions": "监护仪软件须升级至 V2.1 或更高版本。",
            }
        ],
    },
    {
        "id": "KB-SB-005",
        "title": "Service bulletin: DR-DET-4343 firmware 5.2 calibration update",
        "kind": "service_bulletin",
        "language": "en",
        "models": ["DR-DET-4343", "HX-DR 580", "HX-DR 320M"],
        "version": "1.1",
        "published": 45,
        "body": (
            "Detector firmware 5.2 changes the gain map format. After updating a DR-DET-4343 "
            "to firmware 5.2, repeat the gain and defect-pixel calibration on every system the "
            "detector is registered to; images acquired with an old gain map show a faint grid "
            "pattern."
        ),
    },
)
