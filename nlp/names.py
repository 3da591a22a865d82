"""Short forms people use for an organisation's legal name (华东医疗器械有限公司 → 华东医疗器械, 华东医疗)."""

from __future__ import annotations

import re

from nlp.segment import word_freq, word_tag

LEGAL_SUFFIXES = (
    "集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "股份公司", "集团公司", "集团", "公司",
)
# Trailing business words dropped to reach the brand (宁德时代新能源科技 → 宁德时代).
BUSINESS_WORDS = (
    "计算机系统", "信息技术", "新能源", "科技", "技术", "信息", "网络", "软件", "电子", "实业", "贸易", "发展", "控股",
    "股份", "投资", "企业", "工程机械", "医疗器械", "生物医疗", "制药", "教育", "电器", "智家", "绿能", "能源", "在线",
    "物流", "传媒", "文化", "环保", "通信", "汽车",
)
INSTITUTION_WORDS = ("医院", "银行", "大学", "学院", "证券", "保险")
# A region alone is never a customer's short name.
REGIONS = (
    "北京", "上海", "天津", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东",
    "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏",
    "宁夏", "新疆", "香港", "澳门", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "青岛", "厦门", "宁波",
    "珠海", "无锡", "合肥", "长沙", "郑州", "济南", "沈阳", "大连", "福州", "昆明", "东莞", "佛山", "中国", "华东", "华南",
    "华北", "华中", "西南", "西北", "东北", "全国",
)
_REGION_PREFIX = re.compile(
    rf"^(?:{'|'.join(sorted(REGIONS, key=len, reverse=True))})(?:省|市|区|县|自治区|特别行政区)?|^[\u4e00-\u9fff]{{2,3}}(?:省|市|自治区)"
)
# Public bodies are named by their region: 杭州市第一人民医院 without 杭州市 is any city's hospital.
PUBLIC_ENDINGS = ("医院", "局", "中心", "大学", "学院", "学校", "委员会", "政府", "研究院", "研究所", "银行", "分行", "支行")
GENERIC_TAGS = {"n", "ns", "v", "vn", "a", "an", "ad", "d", "m", "t", "s", "f"}
_BRACKETS = re.compile(r"[(（][^()（）]*[)）]")
MIN_PREFIX = 4  # shorter prefixes (华东医) are too often shared by look-alikes


def core_name(name: str) -> str:
    """The name without brackets and legal suffix: 中国平安保险(集团)股份有限公司 → 中国平安保险."""
    core = _BRACKETS.sub("", name).strip()
    for suffix in LEGAL_SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix) + 1:
            core = core[: -len(suffix)]
            break
    return core


def is_generic(word: str) -> bool:
    """A common word (医药, 医疗器械, 招商) names no particular customer."""
    return word_tag(word) in GENERIC_TAGS or word_freq(word) > 1000


def region_length(name: str) -> int:
    m = _REGION_PREFIX.match(name)
    return m.end() if m else 0


def without_region(name: str) -> str:
    """深圳市腾讯计算机系统 → 腾讯计算机系统, unless what is left is generic or the name is a public body's."""
    cut = region_length(name)
    rest = name[cut:]
    if not cut or len(rest) < 2 or name.endswith(PUBLIC_ENDINGS) or is_generic(rest):
        return name
    return rest


def brand(name: str) -> str:
    """Strip trailing business and institution words while at least two characters remain."""
    changed = True
    while changed:
        changed = False
        for word in BUSINESS_WORDS + INSTITUTION_WORDS:
            if name.endswith(word) and len(name) - len(word) >= 2:
                name = name[: -len(word)]
                changed = True
    return name


def _prefixes(base: str) -> list[str]:
    """Prefixes of a company's core that reach past its region into the brand (华东医疗, not 上海浦东)."""
    cut = region_length(base)
    out = []
    for n in range(max(MIN_PREFIX, cut + 2), len(base)):
        if not (cut and word_tag(base[cut:n]) == "ns"):
            out.append(base[:n])
    return out


def derived_aliases(name: str) -> list[str]:
    """Short forms of `name`, longest first: the core, the core without region, the brand, and
    (for companies) prefixes of the core of at least MIN_PREFIX characters. Generic words and
    regions alone are dropped."""
    core = core_name(name)
    local = without_region(core)
    forms = [core, local, brand(core), brand(local)]
    if core != _BRACKETS.sub("", name).strip():  # a legal suffix was cut: a company
        forms += _prefixes(core) + (_prefixes(local) if local != core else [])
    seen: list[str] = []
    for form in forms:
        if len(form) >= 2 and form != name and form not in seen and form not in REGIONS and not is_generic(form):
            seen.append(form)
    return sorted(seen, key=len, reverse=True)
