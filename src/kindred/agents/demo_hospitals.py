"""The demo world's hospitals: the accounts of the agents' purchase-intent case.

Product data, so the demo (:mod:`kindred.agents.demo`) needs nothing from the reference
stand-ins; those (:mod:`kindred.reference.insurance`, :mod:`kindred.reference.contracts`,
through :mod:`kindred.reference.hospitals`) seed the *same* institutions from here, so a
purchase intent recorded for one of these accounts (``tax_id`` = the credit code) can be
checked end to end. The names and codes are invented; every code carries a valid GB
32100-2015 check character (and a valid GB 11714 organisation-code check in characters 9-17).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoHospital:
    credit_code: str
    name: str
    name_en: str
    province: str
    city: str
    grade: str  # the National Health Commission's hospital grade, e.g. 三级甲等


DEMO_HOSPITALS: tuple[DemoHospital, ...] = (
    DemoHospital(
        "121101054526018196",
        "北京安和医院",
        "Beijing Anhe Hospital",
        "北京市",
        "北京市",
        "三级甲等",
    ),
    DemoHospital(
        "12310115459083014E",
        "上海浦江中心医院",
        "Shanghai Pujiang Central Hospital",
        "上海市",
        "上海市",
        "三级甲等",
    ),
    DemoHospital(
        "12440106466131862R",
        "广州珠江人民医院",
        "Guangzhou Zhujiang People's Hospital",
        "广东省",
        "广州市",
        "三级甲等",
    ),
    DemoHospital(
        "12510104409139091R",
        "成都锦城第二人民医院",
        "Chengdu Jincheng Second People's Hospital",
        "四川省",
        "成都市",
        "三级乙等",
    ),
    DemoHospital(
        "12420102496030827F",
        "武汉汉江妇幼保健院",
        "Wuhan Hanjiang Maternal and Child Health Hospital",
        "湖北省",
        "武汉市",
        "三级甲等",
    ),
    DemoHospital(
        "123301024462819431",
        "杭州钱塘中医院",
        "Hangzhou Qiantang Hospital of Traditional Chinese Medicine",
        "浙江省",
        "杭州市",
        "二级甲等",
    ),
    DemoHospital(
        "52610113582199354J",
        "西安雁塔康复医院",
        "Xi'an Yanta Rehabilitation Hospital",
        "陕西省",
        "西安市",
        "二级乙等",
    ),
    DemoHospital(
        "91210112M181909307",
        "沈阳浑南骨科医院有限公司",
        "Shenyang Hunnan Orthopaedic Hospital Co., Ltd.",
        "辽宁省",
        "沈阳市",
        "二级甲等",
    ),
    DemoHospital(
        "523201045786579735",
        "南京秦淮眼科医院",
        "Nanjing Qinhuai Eye Hospital",
        "江苏省",
        "南京市",
        "二级甲等",
    ),
    DemoHospital(
        "12370102454323197X",
        "济南泉城心血管病医院",
        "Jinan Quancheng Cardiovascular Hospital",
        "山东省",
        "济南市",
        "三级乙等",
    ),
    DemoHospital(
        "12410105448757490P",
        "郑州中原肿瘤医院",
        "Zhengzhou Zhongyuan Cancer Hospital",
        "河南省",
        "郑州市",
        "三级甲等",
    ),
    DemoHospital(
        "12530112411862529R",
        "昆明滇池社区卫生服务中心",
        "Kunming Dianchi Community Health Service Centre",
        "云南省",
        "昆明市",
        "一级甲等",
    ),
    # Opened recently: a customer of the distributor, not yet in the insurance registry.
    DemoHospital(
        "12500112476018951R",
        "重庆两江新区第一人民医院",
        "Chongqing Liangjiang New Area First People's Hospital",
        "重庆市",
        "重庆市",
        "三级乙等",
    ),
)

BY_CREDIT_CODE = {hospital.credit_code: hospital for hospital in DEMO_HOSPITALS}
