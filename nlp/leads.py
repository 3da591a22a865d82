"""A lead typed in one message (sentence, `key：value；` pairs, a list, a voice run-on) → its fields.

Pure: the rule vocabulary (industries and their words, need-stage phrases, budget-band phrases, titles) is passed
in as a `Vocabulary`, so an admin's rule file extends what is understood without code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from nlp.amounts import find_amounts, parse_amount
from nlp.contacts import COMPOUND_SURNAMES, SURNAMES
from nlp.segment import fold


@dataclass(frozen=True)
class Vocabulary:
    industries: dict[str, list[str]]  # industry → its name and aliases (a field when said on their own)
    industry_words: dict[str, list[str]]  # industry → words implying it anywhere, even inside a name (医院)
    need_stages: dict[str, list[str]]  # need stage → phrases saying it (在看方案)
    budget_bands: dict[str, list[str]]  # band → phrases saying it without an amount (上千万)
    titles: list[str]  # job titles, base forms (总监, 院长, CTO); 财务总监 and 分管院长 are built on them
    evidence: list[str] = field(default_factory=list)  # labels of industry evidence a rep may type (设备型号:X200)
    band_limits: dict[str, int | None] = field(default_factory=dict)  # band → yuan it stays below (None: no limit)


@dataclass(frozen=True)
class Person:
    name: str | None
    title: str | None


@dataclass
class ParsedLead:
    customer: str = ""
    customer_sure: bool = True  # False: the name's end was guessed (no separator, no org suffix): confirm it
    industry: str | None = None
    budget: int | None = None  # yuan
    budget_band: str | None = None  # only when said as a band (百万级), not derived from an amount
    decision_makers: list[Person] = field(default_factory=list)
    need_stage: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)  # label → value as typed
    unknown: list[str] = field(default_factory=list)  # parts of the message it did not understand


# The command a rep starts with, in any phrasing: 新线索, 建个线索, 录个新客户, 有个新客户叫 …, and its slips (新线所, xin线索).
_LEAD_WORD = r"(?:线索|线所|线锁|线sou|客户|商机)"
_NEW = r"(?:新|xin)"
_COMMAND = re.compile(
    rf"^\s*[【\[]?\s*(?:那个|这个|嗯|哦|对了|今天|刚刚|刚才|又)*\s*(?:帮我|帮忙|麻烦|请)?\s*(?:(?:今天|刚刚|刚才)?(?:又)?有(?:个|一个|家|一家)(?:{_NEW}的?)?{_LEAD_WORD}(?:叫做|叫|是)?"
    rf"|(?:新建|新增|建|录入|录|加|添加|记|登记|开|来|报)?(?:一?个|一条|条|一下)?(?:{_NEW}的?){_LEAD_WORD}(?:叫做|叫|是)?"
    rf"|(?:新建|新增|建|录入|录|加|添加|记|登记|开|报)(?:一?个|一条|条|一下)?{_LEAD_WORD}(?:叫做|叫|是)?"
    r"|线索)(?:来了|来啦)?[】\]]?(?:(?:啊|哈|呢|呀|嘛|哦)(?=就是|[\s,，。!！~]))?\s*(?:一下)?[\s:：,，。.;；!！\-—~]*"
)
# 「刚才聊了个新客户叫…」: the command said inside an opening phrase.
_INTRO = re.compile(r"^.{0,12}?(?:(?:有|聊了|来了|认识了|接了|碰到|加了|谈了|见了)(?:一?个|一家|家)(?:新的?)?|(?:一?个|一家|家)新的?)"
                    r"(?:客户|线索)\s*(?:叫做|名叫|叫|是)?\s*")
# Words an organisation's name ends with: a name cut right after one is sure.
ORG_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团", "公司", "医院", "卫生院", "大学", "学院", "中学", "小学", "学校",
    "银行", "商行", "总行", "分行", "支行", "信用社", "证券", "保险", "研究院", "研究所", "中心", "总部", "局", "委员会", "办公室", "厂", "超市",
    "商场", "百货", "供应链", "科技", "网络", "信息", "电子", "软件", "物流", "快递", "速运", "商贸", "实业", "控股", "电力", "能源",
    "制药", "药业", "机械", "汽车", "电器", "传媒", "教育", "医疗", "股份", "园区", "园", "港", "机场", "酒店", "院", "所",
)
_SUFFIX_WORDS = "|".join(sorted(ORG_SUFFIXES, key=len, reverse=True))
# An opener before the org in a run-on: when or where, and the verb of meeting it (今天和…喝了茶, 刚才去了, 同事推荐了,
# 刚从, 在展会上认识了).
_WHEN = r"那个|嗯|今天|昨天|前天|昨晚|今晚|今早|早上|刚才|刚刚|刚|上午|下午|中午|晚上|上周|这周|周末|前几天"
_WHERE = r"在?[^\s,，。:：]{1,6}?(?:上|里|那边|这边|那儿)"
_MET = r"拜访认识|认识|拜访|去|跑|见|碰到|碰见|遇到|推荐|介绍|聊|约|从|跟|和|电话沟通|沟通|通了电话|打了电话"
_EMOJI = r"[\U0001F300-\U0001FAFF\u2190-\u21FF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]"
# Chatter before the name, after or instead of a command word: 帮我记一下啊, 录一下：, 哈是, 对方是, 👉, new lead:,
# 有个客户想上系统 叫…, 俺们这片新冒出来一个客户, 名片：.
_CHATTER = re.compile(
    r"(?:(?:(?:那个|这个|嗯|哦|对了|跟你说)\s*)*(?:帮我|帮忙|麻烦|请|给我)?(?:记录|录入|登记|记|录)(?:一下|下)[啊哈呢呀嘛哦]*"
    r"|(?:帮我|帮忙|麻烦|请|给我)(?:记录|录入|登记)|(?:帮我|帮忙|麻烦)?(?:新建|建|录|加|记)(?:一个|一条|个)(?=[\s:：,，])|(?:记录|录入|登记)(?=[\s:：])|new lead|lead(?=[\s:：])|(?:下面是|这是|以下是)?(?:他的|客户的?)?[【\[(（]?名片(?:信息|如下)?[】\])）]?"
    r"|(?:今天|昨天|刚才|刚刚|上午|下午|晚上)?(?:认识了|见了|拜访了|碰到了|碰见了|约了)(?=[^\s,，。]{2,}?的)"
    r"|(?:今天|昨天|刚才|刚刚|上午|下午|晚上|刚)?(?:跑了|去了)一?趟"
    rf"|(?:(?:我|我们|那个|嗯|跟你说|我跟你说)[啊哈]?\s*)*(?:(?:(?:{_WHEN})\s*)+(?:{_WHERE})?|{_WHERE})(?:同事|朋友|领导|老板|老乡|同学|客户)?(?:(?:{_MET})(?:了|完)?(?:一?趟)?)+的?\s*(?:个|一个|一家|家)?\s*"
    rf"(?!(?:新的?|潜在的?)*(?:客户|线索|老板|商机))(?=[^\s,，。:：]{{2,}}?(?:{_SUFFIX_WORDS}|的)|[a-z]|[^\s,，。:：]{{2,12}}(?:[\s,，。]|然后|他们|出来|聊完))"
    r"|(?:客户|转发)[^\s:：,，]{0,6}?(?:转过来的?|发过来的?|发来的?|转发|转|介绍|资料|消息)[)）]?[:：👇]|客户[(（]转[)）][:：]|(?:您好|你好)[,，!！]*"
    r"|转[:：]|[【\[(（][^】\])）]{0,6}(?:留言|消息|咨询|转发)[】\])）]"
    r"|(?:我们是|我们这边是|我司是?|我是)|(?:想|要|准备|打算)(?:做|搞|上)\s*[a-z]{2,8}(?=[\s,，。:：])|有(?:个|一个|家|一家)(?:新的?|潜在的?)*(?:机会|客户)(?:[啊哈呀哦]*[~～])?"
    r"|(?:有|认识了?)(?:个|一个|家|一家)(?:做(?P<does>[^\s,，]{1,6}?)的)?(?P<kind>物流|saas|软件|互联网|科技|制造|医疗|教育|金融|零售|能源)?"
    r"(?:公司|银行|医院|学校|单位|企业|工厂|客户)(?:叫做|叫)?(?=[\s,，。:：])|(?:有|认识了?)?(?:个|一个|家|一家)(?:做|搞)(?P<kind2>[^\s,，]{1,6}?)的(?=[\s,，])"
    r"|[^\s,，。:：]{1,10}?(?:跟进|拜访|认识|见|聊|对接|介绍|推荐|联系)(?:过|了)?的(?=[\s,，])"
    r"|(?:那个)?叫什么来着[,，\s]*(?:对|哦)?[,，\s]*"
    r"|[啊哈呢呀嘛哦嗯吧呗]*(?:麻烦(?:你|您)?了|辛苦(?:了|啦)?|谢谢|多谢|感谢)(?:啦|了|哈|哦)*"
    r"|有(?:个|一个|家|一家)[^\s,，。:：]{1,6}?(?:想|要|准备|打算)[^\s,，。:：]{1,14}(?=[\s,，。:：])"
    r"|(?:想|要|准备|打算)[^\s,，。:：]{1,8}?[\s,，]*(?:叫做|名叫|叫)"
    r"|[^\s,，。:：]{0,12}?(?:一个|一家|一位|了个|了家|说个|来个|出个|有个|有家|新的|的新|的那个|的这个)(?:新的?|潜在的?)*(?:客户|线索|老板|商机)(?=[啊哈呢呀哦]*(?:[\s,，。:：!！]|$))"
    rf"|{_EMOJI}|[啊哈呢呀嘛哦嗯]*(?:(?:对方|客户|他们|这家|那家)?(?:就是|是))|[啊哈呢呀嘛哦嗯]+(?=[\s:：,，。!！]))"
    r"[\s:：=＝,，。!！]*"
)
# Words before the name that say what kind of customer it is, not its name (潮汕老字号 陈记牛肉丸连锁, 本地连锁 X超市,
# 徐工集团的一个子公司 徐工汽车).
_DESCRIPTOR = re.compile(r"[\u4e00-\u9fff]{0,2}?(?:老字号|龙头|头部企业|头部|知名企业|知名|上市公司|国企|央企|民企|外企|本地|当地|连锁|老牌)"
                         r"(?:企业|品牌|连锁)?|.{2,12}?(?:的|旗下的?)(?:一个|一家)?(?:子公司|分公司|下属(?:公司|单位|企业))")  # X集团的一个子公司
# Words between the command and the name: 「啊就是今天下午见的」「名字叫」「叫」.
_NAME_LEAD_IN = re.compile(
    r"(?:(?:啊|哈|呢|呀|嘛|哦|嗯)*就是|是)?"
    r"(?:(?:今天|昨天|前天|刚才|刚刚|上午|下午|中午|晚上|上周|周[一二三四五六日]|[\u4e00-\u9fff]{0,4}?会上|早上)"
    r"[\u4e00-\u9fff]{0,6}?(?:见|拜访|认识|聊|碰到|遇到|接触|加|谈)(?:了|过)?的)?"
    r"(?:(?:客户|公司)?(?:名字|名称)(?:是|叫做|叫|为|:|：)?|(?:他们|她们|这家|那家|对方|公司|单位)?(?:叫做|名叫|叫))?\s*")
_CARD_FIELD = re.compile(r"[^\n|/]+")  # a card's line, or a field between ｜ or /
# Keys of a business card (姓名：钟国平 职务：总经理 电话：…).
_CARD_KEY = re.compile(r"(?:(?P<name>姓名|联系人姓名|name)|(?P<title>职务|职位|头衔|title)|"
                       r"(?P<other>电话|手机|座机|tel|mobile|phone|邮箱|email|e-mail|地址|address|微信|传真|fax|网址|官网|web))"
                       r"(?:\s*[:：=＝]\s*|\s+(?=[\d+(]))")
_PHONE = re.compile(r"(?<![\d.])(?:\+?86[-\s]?)?(?:1[3-9]\d{9}|1[3-9]\d[x*]{4}\d{4}|0\d{2,3}-?\d{7,8}(?:\s\d{4})?)(?![\d.])")  # 13800000000
# Field keys a rep writes before a value (预算：80万, 决策人 赵行长).
_KEYS = {
    "industry": r"所属行业|客户行业|行业|industry",
    "budget": r"预算区间|预算金额|预算|budget",
    "decision": r"关键决策人|主要决策人|决策人|决策者|决策链|关键人|拍板人|拍板的人|拍板的是|拍板的|说了算的是|最终决策人|decision makers?|dm",
    "need_stage": r"需求阶段|项目阶段|当前阶段|阶段|进度|状态|stage|status",
}
_KEY = re.compile(rf"(?:{'|'.join(_KEYS.values())}|决策)\s*(?:是|为|在|:|：|=|＝|\s|,|，)+")
_CUSTOMER_KEY = re.compile(r"(?:客户名字|客户名称|客户名|公司名字|公司名称|公司名|单位名称|客户|公司|单位|名称|名字)\s*"
                           r"(?:[:：=＝]|叫做|名叫|是|叫|为|\s)\s*|(?:customer|client|company)(?: name)?\s*[:：=＝]\s*")
_BREAKS = ",，。;；、\n\r!！?？|/-—~～…="
_ABBREVIATION = re.compile(r"(?<![a-z])(?:inc|co|ltd|corp|llc|plc|pte|gmbh|intl|bhd|pty|mr|ms|mrs|dr)$")  # TechFlow Inc., Mr. Chan
SHORT_NAME = 12  # a piece this long between separators is taken whole as the name
# Where a name without a suffix ends in run-on text: what follows is about the customer, not its name.
# Meeting someone, said after them (X的信息中心主任聊完): not part of who they are.
_MEETING_TAIL = re.compile(r"(?:聊完|聊了|谈完|谈了|见了面?|碰了面|吃了饭|吃饭|喝了茶|喝茶)(?:了|过)?$")
# A branch written after its bank or company with a space (建设银行 杭州分行).
_BRANCH = re.compile(r"\s+([\u4e00-\u9fff]{1,8}?(?:分行|支行|分公司|营业部|分院|分校|校区))(?=[\s,，。;；]|$)")
_SOFT_CUTS = re.compile(
    r"然后|出来|聊完|做|搞|是一家|是家|一家|他们|她们|那边|这边|目前|现在|正在|准备|打算|计划|想要|想|需要|要|刚|已经|主要|有个|有一个|"
    r"主营|属于|的项目|项目|这家|说|在"
)
# Talk right after an org suffix: the name ended at the suffix (X医院然后信息科说, X集团出来他们想, X银行信息科技部的,
# X中学智慧校园建设, X医院信息化升级; not X大学信息化办公室, a part of the customer).
_AFTER_SUFFIX = re.compile(r"然后|出来|聊完|回来|他们|她们|那边|这边|想(?:做|上|搞|了解|要)|要(?:做|上|搞)|有(?:个|一个)?新?(?:需求|项目|机会)|"
                           r"(?:智慧|信息化|数字化)(?!办公室|中心|部|处|科|办)")
# A department right after an org suffix, then 的, a verb or a title: X银行信息科技部的, X银行信息科技部总经理何静,
# X银行总行信息科技部见了….
_TALK_AFTER_DEPARTMENT = re.compile(r"的|见|说|在|要|想|他们|那边|跟|和")
_DEPARTMENT_AFTER = re.compile(r"(?:信息科技|信息技术|信息|科技|网络|财务|采购|技术|设备|运营|it)(?:部|处|科|中心)")
# Talk inside a short piece (X超市连锁有个需求): the name ends before it, a guess to confirm.
_TALK = re.compile(r"有(?:个|一个)?新?(?:需求|项目|机会)|想(?:做|上|搞|了解)|要(?:做|上|搞)|然后")
_FILLER = re.compile(r"^(?:的|了|啊|呢|哈|吧|哦|嗯|是|有|在|目前|现在|大概|大约|这个|那个|客户|项目|然后|还有|另外|对了|"
                     r"(?:刚|刚刚)?(?:加了?|添加了?)?(?:个|一个)?(?:新)?(?:客户)?的?(?:微信|企微|企业微信|钉钉)(?:好友)?|"
                     r"先记一下|记一下|先这样|回头再补|后面再补|其他的?再说|还不知道|不知道|具体|全称|名字|叫啥|叫什么|叫做|叫|他们|"
                     r"\s|[~～。.!！?？、,，;；:：\-—()（）\[\]【】+＋]|[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F])*$")
# Saying who decides, after the people (财务总监老孙是决策人, CTO王明拍板, 最后王总说了算).
_DECIDES_AFTER = re.compile(r"\s*(?:一起|共同|一块)?(?:就|也)?(?:是|为|算)?(?:最终|主要|关键)?(?:决策人|决策者|关键人|拍板人|拍板的|负责拍板|来拍板|拍板|说了算|定夺|决策|做决定|牵头|定|(?:都|也)(?:要|得|需要)?(?:点头|同意|签字)|负责(?![人的])|decides?(?![a-z]))")
_DECIDES_BEFORE = re.compile(rf"(?:由|是)?(?:{_KEYS['decision']}|决策的是|拍板(?=\s*[:：])|决策(?=\s*[:：]|\s)|(?:负责人|老板|领导|一把手)(?=是|\s*[:：])|负责的是|对接人|联系人|接口人|对接的是|联系的是|管这事的是|管事的是|管这块的是|能拍板的是|最后拍板的是|最终拍板的是|负责拍板的是|说了算的)"
                             r"(?:是|为|有|[两二三四几]\s*[个位]|俩|:|：|=|＝|\s)*")
_SURNAME = f"(?:{'|'.join(COMPOUND_SURNAMES)}|[{SURNAMES}])"
_HONORIFICS = "总工|总|工|老师|老板|董|经理|主任|处长|局长|院长|校长|行长|厂长|部长|科长|书记|主管|所长|女士|先生|姐|哥"
_NAME = re.compile(rf"^(?:[老小]{_SURNAME}|[老小][^\W\da-z_板师公家婆总姐哥弟妹]|(?:mr|ms|mrs|dr)\.?\s?[a-z]+|{_SURNAME}(?:{_HONORIFICS})|{_SURNAME}[\u4e00-\u9fff]{{1,2}}|[\u4e00-\u9fff][哥姐]|"
                   rf"[a-z][a-z ]{{1,20}})$")
# A person right after a stated title, where any one character may be the surname (院长 阚院长, CIO 储总, 仓储经理老向).
_LOOSE_NAME = re.compile(rf"[老小][^\W\da-z_板师公家婆总](?![\u4e00-\u9fff])|[^\W\da-z_副正总老小](?:{_HONORIFICS})(?![\u4e00-\u9fff])")
_NAME_AFTER_TITLE = (rf"(?:[老小][^\W\da-z_板师公家婆总]|[^\W\da-z_副正总老小](?:{_HONORIFICS})(?![\u4e00-\u9fff])|"
                     rf"[老小]{_SURNAME}|{_SURNAME}(?:{_HONORIFICS})|[\u4e00-\u9fff][哥姐]|{_SURNAME}[\u4e00-\u9fff]{{1,2}}|"
                     r"(?:mr|ms|mrs|dr)\.?\s?[a-z]+|[a-z]+(?: [a-z]+)?)")
# A name without a Han surname, right next to a title (总经理巴特尔, 信息科主任次仁, 次仁 总经理): 2–3 characters, no verb.
_GIVEN_NAME = re.compile(r"(?![^\n]*(?:拍板|说了算|决策|同意|点头|签字|负责|审批|都要|都得|牵头|要|在|是|聊|谈完|见了|吃了|喝了))[\u4e00-\u9fff]{2,3}")
_NOT_A_GIVEN_NAME = re.compile(r"拍板|说了算|决策|同意|点头|签字|负责|审批|牵头|要|在|是|预算|方案|立项|招标|调研|[部处科办局委会]$|中心$")
_NAME_AT_START = re.compile(rf"[老小]{_SURNAME}|{_SURNAME}(?:{_HONORIFICS})")
_BARE_NAME = re.compile(rf"{_SURNAME}[\u4e00-\u9fff]{{1,2}}(?=[\s,，;；。、]|$)")  # 张三 on its own
_NAME_AT_END = re.compile(rf"(?:[老小]{_SURNAME}|{_SURNAME}(?:{_HONORIFICS}))$")
_TITLE_HEADS = (
    r"(?:(?:集团|总部|分行|支行|分公司|省公司|区域|大区|区|市|省)?\s?(?:分管|主管|常务|执行|首席|代理|主要)?(?:财务|技术|信息化?|信息中心|信息科|信息部|网络中心|it|采购|项目|运营|市场|销售|"
    r"行政|人事|设备科?|数字化|科技部|科技|教务处?|医务处?|后勤|总务|研发|生产|质量|产品|数据|安全|法务|商务|业务|风控|合规|办公室|"
    r"工程|规划|战略|发展)?(?:部|处|科|中心|办公室|办)?(?:副)?(?:兼)?"
    r"|[\u4e00-\u9fff]{1,5}?(?:部|处|科|中心|办公室|办|委|会|局)(?:副)?)\s?"
)
# 区域总, 运营总: a department and 总 is a title (not 总监, 总经理, 总工).
_DEPARTMENT_HEAD = r"(?:区域|大区|片区|运营|中心|销售|技术|财务|生产|市场|业务|分公司|省公司|事业部)总(?![监经裁工部助办a-z])"
# A decision body: 行长办公会, 主任办公会, 董事长办公会, 总裁办 (no one's name).
_BODY = r"(?:办公会议?|办公室|党委会|办(?![公主事理法学的室]))"
# VP of Sales, Country Manager, Operations Director, Head of IT.
_ENGLISH_TITLE = (r"(?:(?:vp|head|director|chief [a-z]+ officer) of [a-z]+|(?:[a-z]+ )?(?:manager|director|president|"
                  r"officer))(?![a-z])")
# The department before a person (科技部刘总, 管委会刘主任).
_DEPARTMENT = re.compile(r"(?:[\u4e00-\u9fff]{1,5}?(?:部|处|科|中心|办公室|办|委|会|局)|财务|技术|信息|it|采购|运营|市场|销售|行政|"
                         r"人事|设备|数字化|科技|研发|生产|质量|产品|数据|安全|法务|商务)")
# A range or 多 in an amount (七八十万, 20-30万, 三五百万, 一百多万, 一个多亿): a size, not a figure.
_APPROXIMATE = re.compile(r"[\d一二两三四五六七八九十百千万亿wk]\s*[-~～到至]\s*[\d一二两三四五六七八九]|"
                          r"[一二两三四五六七八九][一二三四五六七八九](?=[十百千万亿])|[\d一二两三四五六七八九十百千]个?[多余](?=[个十百千万亿w])")
_CORRECTED_AMOUNT = re.compile(r"[\s,，]*(?:哦|噢)?(?:不对|不是|说错了|错了|打错了)[\s,，]*(?:是|应该是)?\s*")
_HAN_RANGE = re.compile(r"(?P<low>[一二两三四五六七八九十百千]+)\s*(?:到|至|-|~|～)\s*[一二两三四五六七八九十百千]+(?P<unit>万|亿)")
_UNKNOWN_BUDGET = re.compile(r"(?:预算|budget)\s*(?:[:：]\s*)?(?:还没定|还没有定|没定|未定|待定|不清楚|不知道|没说|未知|还不确定|不确定|"
                             r"暂无|没有|tbd)")
# 「对接人 销售经理 不是决策人」「王总不拍板」「客户经理小黄介绍的」: the people said just before are not decision makers.
_NOT_DECIDING = re.compile(r"(?:但|可|不过)?(?:他|她|他们|对方)?(?:不是|并不是|并非|不算)(?:最终|主要|关键)?(?:的)?(?:决策人|决策者|拍板的?人?|关键人)"
                           r"|说了不算|不拍板|不管事|不负责拍板|介绍的|推荐的|介绍过来的")  # 客户经理小黄介绍的: who referred it
# 目前在、现在正在走: the words before a need stage that say only "now".
_LEAD_IN = re.compile(r"(?:想|还没有|还没|没有|没|未|还未|目前|现在|当前|正在|还在|还|已经|以经|已|以|在|再|处于|刚刚|刚|准备|打算|计划|要|快要|快|下周|下个月|年底|马上|是|的|了|"
                      r"开始|进入|需求阶段|阶段|项目|客户|他们|对方|内部|走|做|搞|进行|启动|到了|到|\s|:|：)+")
_LEAD_IN_AT_END = re.compile(rf"(?:{_LEAD_IN.pattern})$")  # 说了算目前刚立项: only 目前刚, the words right before
_NOW = re.compile(r"现在|目前|当前|眼下|刚|还在|正在")  # a stage said as where they are now, not a plan
_NEGATED = re.compile(r"(?:没|未|不|还没|还未|没有|不用|无需|无须)(?:有|在|到|进入|开始)?$")
# 「X？不对 是Y」: the rep corrects the name; what comes after the correction is the name.
# 「X 哦不对是Y」「X，不好意思打错了，是Y」「X 更正一下 叫Y」 too.
_CORRECTION = re.compile(r"[?？]\s*(?:哦|噢|呃|啊)?(?:不对|不是|不(?=[,，\s])|错了|说错了|打错了)[,，。!！\s]*(?:是|应该是|应该叫|叫)?\s*"
                         r"|(?:(?<=[,，。\s])|^)(?:哦|噢|呃|啊)?(?:不好意思)?[,，\s]*(?:不对|打错了|说错了|写错了|更正一下|更正|纠正一下)"
                         r"[,，。!！\s]*(?:是|应该是|应该叫|叫|改成|改为)\s*")
# 「X某支行 … 先记X」: the rep does not know the full name yet and says which one to save.
_PROVISIONAL = re.compile(r"(?:先记|先写|先录|先填|就记|就写)\s*(?P<name>[^\s\d,，。;；!！:：]{2,})(?=[\s,，。;；!！]|$)")
_CONJUNCTIONS = re.compile(r"[跟与及、/&+]|和(?![姐哥])|还有|以及")  # 和姐 is a name


def _title_pattern(titles: list[str]) -> re.Pattern[str]:
    words = "|".join(map(re.escape, sorted({fold(t) for t in titles}, key=len, reverse=True)))
    return re.compile(rf"{_ENGLISH_TITLE}|{_TITLE_HEADS}(?:{_DEPARTMENT_HEAD}|(?:{words})(?:(?<=[a-z])(?![a-z])|(?<![a-z]))"
                      rf"(?:兼(?:{words})(?:(?<=[a-z])(?![a-z])|(?<![a-z])))?{_BODY}?)")  # 董事长兼总经理: one title


def _find_any(text: str, words: dict[str, list[str]]) -> list[tuple[int, int, str]]:
    """(start, end, value) of each phrase found, longest phrase first at a place, not overlapping."""
    found: list[tuple[int, int, str]] = []
    for word, value in _longest_first(words):
        at = text.find(word)
        while at >= 0:
            if not any(s < at + len(word) and at < e for s, e, _ in found):
                found.append((at, at + len(word), value))
            at = text.find(word, at + 1)
    return sorted(found)


_SORTED: dict[int, tuple[dict[str, list[str]], list[tuple[str, str]]]] = {}  # a vocabulary's phrases, folded and sorted


def _longest_first(words: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(folded phrase, value), longest first; kept for the dictionaries in use, since one message looks them up often."""
    kept = _SORTED.get(id(words))
    if kept is None or kept[0] is not words:
        if len(_SORTED) > 64:
            _SORTED.clear()
        kept = _SORTED[id(words)] = (words, sorted(((fold(w), v) for v, ws in words.items() for w in ws if w),
                                                   key=lambda p: len(p[0]), reverse=True))
    return kept[1]


class _Parser:
    """One message: `spans` are the parts claimed by a field, so what is left is the name or not understood."""

    def __init__(self, text: str, vocab: Vocabulary) -> None:
        self.raw = text
        self.text = fold(text)
        self.vocab = vocab
        self.titles = _title_pattern(vocab.titles)
        self.spans: list[tuple[int, int]] = []
        self.lead = ParsedLead()
        self.start = 0  # where the message proper begins, after a command word
        self.said_in_chatter: list[tuple[int, int]] = []  # spans of chatter that name an industry (做SaaS的)
        self.industry_said = False  # said as a field, not only implied by a word
        self.all_industry_words = {k: [*v, *vocab.industry_words.get(k, [])] for k, v in vocab.industries.items()}

    def claim(self, start: int, end: int) -> None:
        self.spans.append((start, end))

    def claimed(self, i: int) -> bool:
        return any(s <= i < e for s, e in self.spans)

    def parse(self) -> ParsedLead:
        m = _COMMAND.match(self.text) or _INTRO.match(self.text)
        self.start = m.end() if m else 0
        while more := (_CHATTER.match(self.text, self.start) or _COMMAND.match(self.text[self.start:])):
            if not more.group(0):
                break
            self.start += len(more.group(0)) if more.re is _COMMAND else more.end() - self.start
            if more.re is _CHATTER:  # 有家SaaS公司叫, 认识了个做跨境电商的: the industry said in passing
                self.said_in_chatter += [more.span(g) for g in ("does", "kind", "kind2") if more.group(g)]
        if corrected := _CORRECTION.search(self.text, self.start, self.start + 40):
            self.start = corrected.end()
        if self.start:
            self.claim(0, self.start)
        for mark in re.finditer(r"(?m)^[ \t]*(?:[-•·*]|\d+[.、)）]|[一二三四五六七八九十][、.])[ \t]*", self.text):
            self.claim(mark.start(), mark.end())
        self._keyed_customer()
        self._card_lines()
        self._card()
        self._evidence()
        self._budget()
        self._provisional()
        self._need_stage()
        self._decision_makers()
        self._industry()
        self._keys()
        self._customer()
        self._named_people()
        self._keys()  # again: 决策，院长 has its value only now
        self.lead.decision_makers = _said_once(_join_surnames(self.lead.decision_makers))
        if not self.industry_said and self.lead.customer:  # 协和医院 → 医疗, also when 物流配送系统 is said after it
            found = _find_any(fold(self.lead.customer), self.all_industry_words)
            self.lead.industry = found[-1][2] if found else self.lead.industry
        self._unknown()
        return self.lead

    # --- fields -------------------------------------------------------------------------------------------------

    def _break(self, i: int) -> bool:
        """A separator between fields: punctuation, a dash, or a space (not one inside 「ABC Logistics」 or 1.2)."""
        ch = self.text[i]
        if ch in _BREAKS:
            return True
        before, after = self.text[i - 1:i], self.text[i + 1:i + 2]
        if ch == ".":
            inside = before.isascii() and before.isalnum() and after.isascii() and after.isalpha()  # zw@yunfan.com
            return not (before.isdigit() and after.isdigit() or inside or _ABBREVIATION.search(self.text, 0, i))
        words = before.isascii() and before.isalpha() and after.isascii() and after.isalpha()
        return ch.isspace() and not (words and not self.titles.match(self.text, i + 1))  # ABC Logistics, CIO Tony

    def _free_before(self, i: int) -> int:
        """Start of the unclaimed words ending at `i` (stops at a claimed span or a separator)."""
        j = i
        while j > self.start and not self.claimed(j - 1) and not self._break(j - 1):
            j -= 1
        return j

    def _free_after(self, i: int, *, spaced_person: bool = False) -> int:
        """End of the unclaimed words starting at `i`; with `spaced_person`, 「王总 CTO」「COO 刘总」 stay one."""
        j = i
        while j < len(self.text) and not self.claimed(j):
            if self._break(j):
                rest = self.text[j:].lstrip()
                gap = len(self.text) - j - len(rest)
                joins = (self.titles.match(rest) or rest[:1] in "(（" or _NAME_AT_START.match(rest) or _BARE_NAME.match(rest)
                         or _LOOSE_NAME.match(rest)
                         or re.match(r"[a-z]", rest)
                         or re.match(r"(?:和|跟|与|及|还有|以及)\s*\S", rest)
                         or self._given_name_after_title(self.text[i:j], rest)
                         or re.match(rf"是\s*(?:{_NAME_AFTER_TITLE})(?![\u4e00-\u9fff])", rest) and self.titles.search(self.text, i, j))
                if not (spaced_person and self.text[j] in " \t\u3000" and j > i and joins):  # a card's lines stay apart
                    break
                j += gap
                continue
            j += 1
        return j

    def _given_name_after_title(self, title: str, rest: str) -> bool:
        """院长 扎西, 总经理 买买提: a name with no Han surname, alone after a title said alone."""
        word = re.match(r"[\u4e00-\u9fff]{2,3}(?=[\s,，;；。、]|$)", rest)
        return bool(word and self.titles.fullmatch(title.strip()) and not _NOT_A_GIVEN_NAME.search(word[0])
                    and not self.titles.search(word[0]) and not self._industry_word(word[0]))

    def _keyed_customer(self) -> None:
        for m in _CUSTOMER_KEY.finditer(self.text):
            if m.start() >= self.start and (m.start() == self.start or self._break(m.start() - 1)
                                            or self.claimed(m.start() - 1)):
                end = self._free_after(m.end())
                if end - m.end() > SHORT_NAME:  # 名字叫X是物流方面的…: where it ends is cut once the fields are known
                    self.claim(m.start(), m.end())
                    return
                if end - m.end() >= 2:
                    self.lead.customer, end = self._with_branch(self.raw[m.end():end].strip(), end)
                    self.claim(m.start(), end)
                    return

    def _with_branch(self, name: str, end: int) -> tuple[str, int]:
        """建设银行 杭州分行: a branch written after its bank or company with a space is part of the name."""
        branch = _BRANCH.match(self.text, end)
        if branch and _has_suffix(name) and not self.claimed(branch.start(1)):
            return name + self.raw[branch.start(1):branch.end()], branch.end()
        return name, end

    def _card_lines(self) -> None:
        """A card pasted line by line (or with ｜ between fields): the org's line is the customer; a name alone on
        its line and a title alone on its line are one person, the card's owner (张海涛 / 副行长 / 河北银行保定分行)."""
        lines = [(m.start(), m.end()) for m in _CARD_FIELD.finditer(self.text, self.start) if m.group().strip()]
        if len(lines) < 3:
            return
        org = next(((a, b) for a, b in lines if self._org_shaped(self.text[a:b].strip()) and not re.search(r"[:：]", self.text[a:b])), None)
        names = [(a, b) for a, b in lines if _BARE_NAME.fullmatch(self.text[a:b].strip())]
        titles = [(a, b) for a, b in lines if self.titles.fullmatch(_squash(self.text[a:b].strip()))]
        if org is None or len(names) != 1 or len(titles) != 1:
            return
        self._name_from(org[0] + len(self.text[org[0]:org[1]]) - len(self.text[org[0]:org[1]].lstrip()))
        (na, nb), (ta, tb) = names[0], titles[0]
        self.lead.decision_makers.append(Person(self.raw[na:nb].strip(), _title_text(self.raw[ta:tb].strip())))
        self.claim(na, nb)
        self.claim(ta, tb)

    def _card(self) -> None:
        """A pasted business card or `key：value` list: 姓名 and 职务 are one person; phone (keyed or not), mail and
        address are kept out."""
        found: dict[str, str] = {}
        for m in _CARD_KEY.finditer(self.text):
            if self.claimed(m.start()) or not (m.start() == 0 or self._break(m.start() - 1) or self.text[m.start() - 1] in ":：="):
                continue
            end = self._free_after(m.end())
            while end < len(self.text) and self.text[end] in "-—/" and not self.claimed(end):  # 138-1234-5678
                end = self._free_after(end + 1)
            key = next(k for k, v in m.groupdict().items() if v)
            found.setdefault(key, self.raw[m.end():end].strip())
            self.claim(m.start(), end)
        if found.get("name") or found.get("title"):
            self.lead.decision_makers.append(Person(found.get("name") or None, found.get("title") or None))
        for phone in _PHONE.finditer(self.text, self.start):  # a number on a card without its key
            if not self.claimed(phone.start()):
                self.claim(phone.start(), phone.end())

    def _evidence(self) -> None:
        for label in sorted(self.vocab.evidence, key=len, reverse=True):
            for m in re.finditer(rf"{re.escape(fold(label))}\s*[:：=＝]?\s*", self.text):
                end = self._free_after(m.end())
                if end > m.end() and not self.claimed(m.start()):
                    self.lead.evidence[label] = self.raw[m.end():end].strip()
                    self.claim(m.start(), end)

    def _person(self, chunk: str, *, given: bool = True) -> Person | None:
        """「李总CIO」「财务总监老孙」「张总（CFO）」「分管院长」「赵行长」「科技部刘主任」 → (name, title)."""
        chunk = re.sub(r"^(?:是|为|由|有|我们|:|：|\s|最后|最终|主要|应该|估计|就|那边|他们|对方|客户|的)+", "", chunk)
        chunk = re.sub(r"(?:是|的|来|\s|了|一起|共同|一块)+$", "", chunk)
        chunk = re.sub(r"(?<=..)(?:说|讲|表示)$", "", chunk)  # 老板韦总说(预算…): what he said is another field
        chunk = re.sub(r"(?<=[\u4e00-\u9fffa-z])(?:管钱|管事|管预算|管采购|管这块|管这事)(?=\s|$)", "", chunk)  # 老板娘管钱 俞总
        owner = chunk.rsplit("的", 1)
        if len(owner) == 2 and (person := self._person(owner[1])) and person.name:  # 港务局的李局长: the 的 says where from
            dept = re.fullmatch(r"[\u4e00-\u9fffa-z]{1,6}?(?:部|处|科|室|中心)", owner[0].strip())
            if dept and person.title and person.name.endswith(person.title):  # 信息处的王处长: the department's head
                return Person(person.name, dept[0] + person.title)
            titles = owner[0].strip().split("兼")
            if all(self.titles.fullmatch(t) for t in titles) and (person.title is None or person.name.endswith(person.title)):
                return Person(person.name, _title_text(owner[0]))  # 副总经理兼CIO的张总: the title, then whose
            return person
        if len(owner) == 2 and re.fullmatch(r"[\u4e00-\u9fffa-z]{1,6}?(?:部|处|科|室|中心)", owner[0].strip()) \
                and self.titles.fullmatch(owner[1].strip()):  # 数字化部的部长: the department's title, no name
            return Person(None, _title_text(owner[0].strip() + owner[1].strip()))
        chunk = re.sub(r"\s*[(（](?:女|男|女士|先生)[)）]$", "", chunk)  # 王丽（女）: not a title
        bracket = re.fullmatch(r"(?P<name>[^(（]+?)\s*[(（](?P<title>[^)）]{1,12})[)）]", chunk)
        if bracket:  # 王经理（采购）: the bracket says the title
            name = _squash(bracket["name"])
            inside = _squash(bracket["title"])
            if self.titles.fullmatch(name) and _NAME.match(inside):  # COO（王女士）
                return Person(inside, _title_text(name))
            dept = _DEPARTMENT.match(name)
            name = name[dept.end():] if dept and _NAME.match(name[dept.end():]) else name
            return Person(name if _NAME.match(name) else None, _title_text(bracket["title"]))
        title_m = None
        for m in self.titles.finditer(chunk):
            title_m = m  # the last title, so 李总CIO gives CIO, not a prefix
        if title_m is None:
            bare = _squash(chunk)
            cut = next((k for k in range(len(bare) - 2, 0, -1)
                        if _DEPARTMENT.fullmatch(bare[:k]) and _NAME.match(bare[k:])), None)
            if cut:  # 科技部刘总, 总行科技部 李总
                return Person(bare[cut:], bare[:cut])
            if re.fullmatch(r"[^\W\da-z_副正总老小][总董]", bare):  # 宗总: any one character before 总 is a surname
                return Person(bare, None)
            return Person(bare, None) if _NAME.match(bare) and not self._industry_word(bare) else None
        title = _title_text(title_m.group(0))
        before = _squash(chunk[: title_m.start()])
        after = re.sub(r"^(?:叫做|名叫|叫|是)", "", _squash(chunk[title_m.end():]))  # CTO叫Kevin, 老板叫韩立民, CIO 是王总
        if _GIVEN_NAME.fullmatch(before) and not after and re.search(r"\s$", chunk[: title_m.start() + 1]):  # 次仁 总经理
            return Person(before, title)
        if re.fullmatch(_SURNAME, before):  # 赵行长: the surname and the title are the name
            return Person(before + title, title)
        said_twice = re.fullmatch(rf"(?P<stated>[\u4e00-\u9fff]{{0,6}}?(?:{self.titles.pattern}))\s*(?P<surname>{_SURNAME}|[^\W\da-z_副正总老小])",
                                  chunk[: title_m.start()].strip())
        if said_twice and not after:  # 分行行长 冯行长: the name carries its own title word, the stated one is the title
            stated = said_twice["stated"].strip()
            body = re.search(_BODY + "$", stated)  # 院长办公室 陈院长: a body is no one's title, the name's own is
            return Person(said_twice["surname"] + title_m.group(0), _title_text(title_m.group(0) if body else stated))
        dept = _DEPARTMENT.match(before)
        if dept and re.fullmatch(_SURNAME, before[dept.end():]):  # 科技部刘主任
            return Person(before[dept.end():] + title_m.group(0), dept.group(0) + title)
        if re.fullmatch(r"[\u4e00-\u9fff]", before) and not after:  # 包校长: one character before a title is a surname
            return Person(before + title, title)
        whole = _NAME.match(after) or re.fullmatch(_NAME_AFTER_TITLE, after) or given and _GIVEN_NAME.fullmatch(after)
        near = _NAME_AT_START.match(after)
        named_after = after if whole else near.group(0) if near else None
        if before:  # 李总CIO, 李总 目前在… CIO
            whole = _NAME.match(before)
            near = _NAME_AT_END.search(before)
            if whole or near:
                return Person(before if whole else near.group(0) if near else None, title)
            before = re.sub(r"^(?:集团|公司|总部|客户|对方|他们|那边|这边|负责人|联系人|对接人|请?联系(?:我们|我)?|找|拍板|决策)+", "", before)
            if re.fullmatch(r"[\u4e00-\u9fff]{1,6}", before):  # 物流总监刘总, 电商VP, 加盟商联盟负责人: a department the rules do not list
                return Person(named_after, before + title)
            return Person(None if before else named_after, title)  # 请联系我 总经理 邓海: only noise before the title
        return Person(named_after, title)

    def _industry_word(self, word: str, *, aliases: bool = False) -> bool:
        """金融 before 决策人 is the industry, not a Mr 金; `aliases`: only an industry's own name or alias (SaaS)."""
        said = self.vocab.industries.values() if aliases else (*self.vocab.industries.values(),
                                                                  *self.vocab.industry_words.values())
        return any(word in {fold(w) for w in words} for words in said)

    def _decision_makers(self) -> None:
        people: list[Person] = []
        for negated in _NOT_DECIDING.finditer(self.text, self.start):
            sentence = max(self.start, *(self.text.rfind(c, 0, negated.start()) + 1 for c in ",，。;；\n!！"))
            cue = [m for m in _DECIDES_BEFORE.finditer(self.text, sentence, negated.start()) if m.group(0).strip()]
            self.claim(cue[-1].start() if cue else self._free_before(negated.start()), negated.end())
        for m in _DECIDES_BEFORE.finditer(self.text):
            if self.claimed(m.start()):
                continue
            end = self._free_after(m.end(), spaced_person=True)
            while end < len(self.text) and self.text[end] in "、和及与/" and not self.claimed(end + 1):
                end = self._free_after(end + 1, spaced_person=True)  # 李总、王总: several after one cue
            stop = _DECIDES_AFTER.search(self.text, m.end(), end)  # 决策人是王总来拍板
            end = stop.start() if stop and stop.start() > m.end() else end
            found = self._people_in(m.end(), end)
            if found:
                people += found
                self.claim(m.start(), end)
                nxt = end
                while nxt < len(self.text) and self.text[nxt] in ",，、":  # 决策人：李总CIO，王总CFO
                    after = self._free_after(nxt + 1, spaced_person=True)
                    more = self._people_in(nxt + 1, after, strict=True, named=True)
                    if not more:
                        break
                    people += more
                    self.claim(nxt, after)
                    nxt = after
        for m in _DECIDES_AFTER.finditer(self.text):
            if self.claimed(m.start()) or m.start() == 0:
                continue
            begin = self._free_before(m.start())
            while begin > self.start and (spaced := re.search(rf"(?:{self.titles.pattern})\s+$", self.text[self.start:begin])):
                begin = self.start + spaced.start()  # CTO 王总 拍板, 院长 信息科科长都要点头
            while begin > self.start and self.text[begin - 1] in "、和及与/" and not self.claimed(begin - 2):
                begin = self._free_before(begin - 1)
            found = self._people_in(begin, m.start())
            if found:
                people += found
                tail = re.match(r"(?:的|了|啊|哈)*", self.text[m.end():])
                self.claim(begin, m.end() + (len(tail[0]) if tail else 0))
        self.lead.decision_makers = list(dict.fromkeys(self.lead.decision_makers + people))  # each once, in the order said

    def _people_in(self, start: int, end: int, *, strict: bool = False, named: bool = False) -> list[Person]:
        """People in raw[start:end]; `strict` keeps only those with both a name and a title (`named`: or 王总)."""
        chunk = self.raw[start:end]
        folded = fold(chunk)
        people = [self._person_folded(part, orig) for whole, original in _split_both(folded, chunk)
                  for part, orig in self._one_by_one(whole, original)]
        found = [p for p in people if p is not None]
        if strict:
            return [p for p in found if p.name and (p.title or named and _NAME_AT_START.fullmatch(fold(p.name)))]
        return found

    def _one_by_one(self, folded: str, original: str) -> list[tuple[str, str]]:
        """「张总CEO王总CFO」 without a separator: split between people, titles all first or all last."""
        pairs = list(re.finditer(rf"(?:{self.titles.pattern})\s*{_NAME_AFTER_TITLE}", folded))
        if len(pairs) > 1 and not re.sub(r"[\s、,，和及与]", "", re.sub("|".join(map(re.escape, (p[0] for p in pairs))), "",
                                                                         folded)):
            return [(p[0], original[p.start():p.end()]) for p in pairs]  # 院长 王院长 副院长 李院长
        titles = list(self.titles.finditer(folded))
        if len(titles) < 2:
            return [(folded, original)]
        head = folded.lstrip()
        title_first = titles[0].start() == 0 or not (_NAME_AT_START.match(head) or _BARE_NAME.match(head) or head[:1].isascii())
        cuts = [t.start() for t in titles[1:]] if title_first else [t.end() for t in titles[:-1]]
        bounds = [0, *cuts, len(folded)]
        parts = [(folded[a:b], original[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if folded[a:b].strip()]
        bare = [bool(self.titles.fullmatch(part.strip())) for part, _ in parts]
        if any(b and k + 1 < len(bare) and not bare[k + 1] for k, b in enumerate(bare)):  # 行长 张行长: one person said twice
            return [(folded, original)]
        # 店长联盟负责人何总: one title with a title inside; a name without a surname only before a space (院长刘建军 信息科主任拉毛)
        spaced = [k + 1 == len(parts) or part[-1:].isspace() or parts[k + 1][0][:1].isspace() for k, (part, _) in enumerate(parts)]
        unnamed = [not b and not getattr(self._person(part, given=spaced[k]), "name", None)
                   for k, ((part, _), b) in enumerate(zip(parts, bare, strict=True))]
        return [(folded, original)] if any(unnamed) else parts

    def _person_folded(self, folded: str, original: str) -> Person | None:
        """Parses on the folded text and gives back names and titles as the rep wrote them."""
        person = self._person(folded)
        if person is None:
            return None
        title = _as_written(person.title, folded, original)
        title = title and re.sub(r"^[\u4e00-\u9fff]{2,6}?(?:集团|公司)(?=.)", "", title)  # 港口集团副总经理 → 副总经理
        return Person(_as_written(person.name, folded, original), title and _title_text(title))

    def _budget(self) -> None:
        spaced = re.sub(r"(?<=[万亿wk元])\s", "，", self.text)  # 200万 张处长: 张 is no measure word here
        spaced = re.sub(r"(?<=\d)kw", "千万", spaced)  # 3kw: the same length, so offsets hold
        spaced = re.sub(r"两(?=三[十百千万亿])", "二", spaced)  # 两三千万 is "two or three": nlp.amounts knows 二三
        spaced = spaced.replace("个多亿", "多个亿")  # 一个多亿: nlp.amounts reads 一多个亿 (same length)
        spaced = re.sub(r"(?<=元)人民币", "，，，", spaced)  # 150万元人民币: nlp.amounts takes 人 for a head count
        bands = _find_any(self.text, self.vocab.budget_bands)
        amounts = [a for a in find_amounts(spaced) if not self.claimed(a.start)
                   and not any(s <= a.end - len(a.text.lstrip("预算budget ")) and a.end <= e for s, e, _ in bands)]
        cued = [a for a in amounts if re.match(r"预算|budget", a.text)]
        written = [a for a in amounts if re.search(r"(?:先写|先填|先记|就写|就填|就按|先按)\s*$", self.text[max(0, a.start - 3):a.start])]
        written += [b for a, b in zip(amounts, amounts[1:], strict=False)  # 两个亿不对是一个亿: the corrected figure
                    if _CORRECTED_AMOUNT.fullmatch(self.text, a.end, b.start)]
        pick = (written or cued or amounts or [None])[0]
        for other in amounts if written else []:  # 七八十万 … 先写75万: the figure to save wins, the range is said too
            self.claim(other.start, other.end)
            self._claim_around(other.start, other.end)
        if pick is not None:
            value, end = pick.value, pick.end
            rest = next((a for a in amounts if a.start == end and a.value < 100_000_000), None)
            if pick.text.endswith("亿") and rest is not None:  # 1亿2千万: one amount said in two parts
                value, end = value + rest.value, rest.end
            han_range = _HAN_RANGE.search(pick.text)
            if han_range and value < 10_000:  # 两百到三百万: nlp.amounts gives the unit to the upper end only
                value = parse_amount(han_range["low"] + han_range["unit"]) or value
            band = None if written else self._band_of_approximate(self.text[pick.start:end], value)
            self.lead.budget, self.lead.budget_band = (None, band) if band else (value, None)
            self.claim(pick.start, end)
            self._claim_around(pick.start, end)
            return
        bare = re.search(r"(?:预算|budget)\s*(?:是|为|在|约|大概|:|：|\s)*(?:(\d{1,3}(?:,\d{3})+|\d{4,})(?![\d.])|"
                         r"(\d+(?:\.\d+)?)\s*m(?![a-z]))", self.text)
        if bare:  # 预算800000, budget 5M
            self.lead.budget = int(bare[1].replace(",", "")) if bare[1] else int(float(bare[2]) * 1_000_000)
            self.claim(bare.start(), bare.end())
            return
        for start, end, band in bands:
            if not self.claimed(start):
                self.lead.budget_band = band
                self.claim(start, end)
                self._claim_around(start, end)
                return
        for unknown in _UNKNOWN_BUDGET.finditer(self.text):  # 预算还没定: said, but nothing to fill
            self.claim(unknown.start(), unknown.end())

    def _band_of_approximate(self, said: str, value: int) -> str | None:
        """七八十万, 20-30万, 一百多万, 一个多亿 say a size, not an amount: the band of their lower bound. 三十来万 and
        八十万左右 stay amounts (every labelled set reads them so)."""
        if not _APPROXIMATE.search(said):
            return None
        return next((band for band, below in self.vocab.band_limits.items() if below is None or value < below), None)

    def _claim_around(self, start: int, end: int) -> None:
        """预算 before, 左右/级别/的预算 after: words that belong to the budget, not to the name."""
        before = re.search(r"(?:先写|先填|先记|就写|就填|就按|先按|预算|budget|投入|大概|大约|差不多|预计|金额|项目)(?:是|为|在|有|约|大概|大约|小|大|近|将近|接近|不到|好|"
                           r"估计|初步|:|：|\s)*$",
                           self.text[max(self.start, start - 10):start])
        after = re.match(r"(?:左右|上下|以内|以上|出头|之间|\+|级别|级|的预算|预算|的项目|的单子|的盘子|元|整|人民币|吧|啊|呢)*"
                         r"(?:[\s,，]*(?:哦|噢)?(?:不对|不是|说错了|错了|打错了)[\s,，]*(?:是|应该是)?)?", self.text[end:])
        self.claim(start - (len(before[0]) if before else 0), end + (len(after[0]) if after else 0))

    def _provisional(self) -> None:
        """X某分厂 … 先记X: the name to save is X; the piece said first is only where it is (no industry from it)."""
        for m in _PROVISIONAL.finditer(self.text, self.start):
            first = self.text.find(m["name"], self.start, m.start())
            if self.claimed(m.start()) or first < 0 or not (first == self.start or self._break(first - 1)):
                continue
            self.lead.customer = self.raw[m.start("name"):m.end("name")]
            self.claim(first, self._free_after(first))
            self.claim(m.start(), m.end())
            return

    def _need_stage(self) -> None:
        order = list(self.vocab.need_stages)
        found = [f for f in _find_any(self.text, self.vocab.need_stages) if not self.claimed(f[0])]
        said = [f for f in found if not _NEGATED.search(self.text[max(0, f[0] - 4):f[0]])]  # 还没立项: not said
        now = [f for f in said if _NOW.search(self.text, max(self._free_before(f[0]), f[0] - 6), f[0])]
        if said:  # 已经立项准备招标了: the furthest stage said; 刚开始调研，明年立项: the one said as now
            self.lead.need_stage = max(now or said, key=lambda s: order.index(s[2]))[2]
        for start, end, _ in found:
            head = _LEAD_IN_AT_END.search(self.text, self._free_before(start), start)
            tail = re.match(r"(?:阶段|中|了|呢|的阶段|流程|环节|的[\u4e00-\u9fffa-z]{0,6}?方案)*", self.text[end:])
            self.claim(head.start() if head and head.end() == start else start, end + (len(tail[0]) if tail else 0))

    def _industry(self) -> None:
        for start, end in self.said_in_chatter:
            if found := _find_any(self.text[start:end], self.all_industry_words):
                self.lead.industry, self.industry_said = found[-1][2], True
                return
        explicit = [(s, e, v) for s, e, v in _find_any(self.text, self.vocab.industries) if not self.claimed(s)]
        words = [(s, e, v) for s, e, v in _find_any(self.text, self.vocab.industry_words) if not self.claimed(s)]
        explicit = [x for x in explicit if not any(s <= x[0] and x[1] <= e and e - s > x[1] - x[0] for s, e, _ in words)]
        for start, end, value in sorted(explicit + words):
            standalone = self._standalone(start, end)
            if standalone:
                self.lead.industry, self.industry_said = value, True
                self.claim(*standalone)
                return
        if explicit or words:  # 某某大学附属医院: the last word names what it is
            self.lead.industry = sorted(explicit + words)[-1][2]

    def _standalone(self, start: int, end: int) -> tuple[int, int] | None:
        """The industry said as a field (互联网行业, 做物流的, 行业：医疗, a list item of its own): its whole span; not a
        plan or a project (想做门店管理, 要做物流配送系统, 在做物流配送系统)."""
        head = self.text[self._free_before(start):start]
        tail = self.text[end:self._free_after(end)]
        lead = re.search(r"(?:是|属于|(?<![想要准备打算计划在])(?:做|搞|干)|从事|主营|行业是?|行业[:：]|所属行业[:：]?)"
                         r"(?:[\u4e00-\u9fff]{0,4}?的|一家|家|做)?$",
                         head)
        if lead is None and tail.startswith("的"):  # 做家电制造的, 在做物流的: what they do, then the industry word
            lead = re.search(r"(?<![想要准备打算计划])(?:做|搞)[\u4e00-\u9fff]{0,4}$", head)
        trail = re.match(r"(?:行业|领域|类|相关|方向)?(?:的|这块|那块|企业|客户|公司|平台|单位)*", tail)
        assert trail is not None
        begin = start - (len(lead[0]) if lead else 0)
        stop = end + len(trail[0])
        if stop == self._free_after(end) and (begin == self._free_before(start) or lead):
            return begin, stop
        after_name = head and _has_suffix(head) and (stop < len(self.text) and self.claimed(stop)
                                                     or head.endswith((")", "）")) and stop == self._free_after(end))
        if lead or trail[0].startswith(("行业", "领域")) or after_name:
            return begin, stop  # 济南市中心医院医疗预算…, X有限公司（X港）物流，: an industry said right after the name
        return None

    def _keys(self) -> None:
        """A key whose value was taken by a field is part of that field (预算：80万 claims 预算：)."""
        for m in _KEY.finditer(self.text):
            gap = re.match(r"[\s,，:：]*", self.text[m.end():])
            end = m.end() + (len(gap[0]) if gap else 0)
            if not self.claimed(m.start()) and (end == len(self.text) or self.claimed(end)):  # 预算，200万
                self.claim(m.start(), end)

    # --- the customer -----------------------------------------------------------------------------------------

    def _name_end(self, start: int, stop: int) -> int:
        """Where a name starting at `start` ends, at `stop` at the latest: after the first org suffix that talk
        follows, else after the last org suffix before a field."""
        cut = next((i for i in range(start, stop) if self.claimed(i)), stop)
        talk = self._talk_after_suffix(start, cut)
        if talk is not None:
            return talk
        best = max((start + m.end() for suffix in ORG_SUFFIXES for m in re.finditer(re.escape(suffix), self.text[start:cut])),
                   default=None)
        close = re.match(r"[^(（)）]*[)）]", self.text[best:cut]) if best is not None else None
        if close and len(re.findall(r"[(（]", self.text[start:best])) > len(re.findall(r"[)）]", self.text[start:best])):
            best += close.end()  # X控股有限公司（招商港口）: a suffix inside the bracket does not end the name
        if best is not None and not _tail_is_name(self.text[best:cut]):
            return best
        return cut

    def _talk_after_suffix(self, start: int, stop: int) -> int | None:
        """The end of the first org suffix in text[start:stop] that talk about the customer follows (X医院然后…)."""
        ends = sorted({start + m.end() for suffix in ORG_SUFFIXES for m in re.finditer(re.escape(suffix), self.text[start:stop])})
        for end in ends:
            dept = _DEPARTMENT_AFTER.match(self.text, end, stop)
            if _AFTER_SUFFIX.match(self.text, end, stop) or dept and (_TALK_AFTER_DEPARTMENT.match(self.text, dept.end(), stop)
                                                                    or self.titles.match(self.text, dept.end(), stop)):
                return end
        return None

    def _customer(self) -> None:
        if self.lead.customer:
            return
        pieces = list(self._pieces())
        org = next((n for n, (start, end) in enumerate(pieces) if self._org_shaped(self.text[start:end])), 0)
        if pieces and re.search(r"[a-z]", self.text[slice(*pieces[0])]) or any(self._org_shaped(self.text[s:e])
                                                                                for s, e in pieces[:org]):
            org = 0  # the first piece is an English name or an org itself
        if pieces and re.search(r"(?:叫做|名叫|叫|名字是|名称是)\s*$", self.text[:pieces[0][0]]):
            org = 0  # 有个新客户叫小鹿生鲜，社区超市: the name was announced, what follows describes it
        named = next((n + (self.text[s:e] in ("叫", "叫做", "名叫")) for n, (s, e) in enumerate(pieces)
                      if re.match(r"叫做|名叫|叫", self.text[s:])), None)
        if named and not any(self._org_shaped(self.text[s:e]) for s, e in pieces[:named]):
            org = named  # 认识了个老板 做连锁超市的 叫 X: the piece that says its name
        for n, (start, end) in enumerate(pieces):
            if n < org or n + 1 < len(pieces) and _DESCRIPTOR.fullmatch(self.text[start:end]):
                continue  # 有个新机会 石家庄以岭药业: chatter before the org-shaped piece
            self._name_from(start)
            if self.lead.customer:
                return

    def _org_shaped(self, piece: str) -> bool:
        """A piece naming an organisation: it ends in an org suffix, or its part before 的 does (X医院的王主任); not
        a piece of industry words only (港口物流), nor one saying what it does (做连锁超市的)."""
        words = self.all_industry_words
        said = sum(e - s for s, e, _ in _find_any(piece, words)) + piece.endswith("的")  # 超市的
        described = re.match(r"是?(?:做|搞)", piece)  # 做连锁超市的: what it does, not its name
        return (_has_suffix(piece) or _has_suffix(piece.split("的", 1)[0])) and said < len(piece) and not described

    def _pieces(self, *, spaced_person: bool = False) -> Iterator[tuple[int, int]]:
        """(start, end) of each run of words no field has claimed, looked for again after each is handled."""
        i = self.start
        while i < len(self.text):
            if self.claimed(i) or self._break(i):
                i += 1
                continue
            end = self._free_after(i, spaced_person=spaced_person)
            yield i, end
            i = max(end, i + 1)

    def _name_from(self, i: int) -> None:
        """A short piece between separators is the name; a longer or run-on piece ends at an org suffix, or at a
        word that starts talking about the customer (then the end is a guess: not sure)."""
        end = self._free_after(i)
        while (chatter := _CHATTER.match(self.text, i, end)) and end - chatter.end() >= 2:  # 刚加了个微信 对方是X
            self.claim(i, chatter.end())
            i = chatter.end()
        lead_in = _NAME_LEAD_IN.match(self.text, i, end)
        if lead_in and lead_in.end() > i and end - lead_in.end() >= 2:
            self.claim(i, lead_in.end())
            i = lead_in.end()
        header = re.match(r"[^:：]{1,30}[:：]\s*", self.text[i:end])
        if header and end - i - header.end() >= 2:  # 刚跟…通了电话：X, 商机：X: what comes before the colon is no name
            self.claim(i, i + header.end())
            i += header.end()
        piece = self.text[i:end]
        if _FILLER.match(piece) or len(piece.strip()) < 2:
            return
        owner = re.fullmatch(r"(.{2,}?)的\s*(.+)", self.text[i:end])
        someone = owner and _has_suffix(owner[1]) and self._people_in(i + owner.start(2), end, strict=True)
        if owner and someone:  # 合肥工业大学的网络中心主任杨老师: the customer, then someone there
            self.lead.decision_makers += someone
            self.claim(i + owner.end(1), end)
            end = i + owner.end(1)
        elif (owner and (title := self.titles.fullmatch(_MEETING_TAIL.sub("", owner[2])))
              and self._free_after(i, spaced_person=True) == end):
            # 深圳云鲸智能的CTO (聊完): the customer, then someone there unnamed (not 的信息中心副主任 王主任: named next)
            start = i + owner.start(2)
            self.lead.decision_makers.append(Person(None, _title_text(self.raw[start:start + title.end()])))
            self.claim(i + owner.end(1), end)
            end = i + owner.end(1)
        ran_on = end < len(self.text) and self.claimed(end)
        name_end, sure = end, True
        if ran_on or end - i > SHORT_NAME:
            suffix_end = self._name_end(i, end)
            if suffix_end < end and not _FILLER.match(self.text[suffix_end:end]):
                name_end = suffix_end
            elif not _has_suffix(self.text[i:end]):
                soft = next(_SOFT_CUTS.finditer(self.text, i + 2, end), None)
                if soft is not None:
                    name_end, sure = soft.start(), False
                elif end - i > SHORT_NAME or not self._field_cut_is_clear(end):
                    sure = False
        elif (talk := self._talk_after_suffix(i, end)) is not None:  # 九江银行信息科技部的: the name ended at its suffix
            name_end = talk
        elif talk := _TALK.search(self.text, i + 4, end):  # 海口椰城超市连锁有个需求: a guess to confirm
            name_end, sure = talk.start(), False
        owner = re.fullmatch(r"(.{2,}?)的\s*(.+)", self.text[i:name_end])
        if owner and _has_suffix(owner[1]) and _DEPARTMENT.fullmatch(owner[2]):
            name_end = i + owner.end(1)  # 湖北宜化集团的采购: the customer, then a department of it
            owner = None
        someone = owner and self._people_in(i + owner.start(2), name_end)
        if owner and someone and all(p.name for p in someone):  # 绍兴越商纺织的王总: the customer, then someone there
            self.lead.decision_makers += someone
            self.claim(i + owner.end(1), name_end)
            name_end = i + owner.end(1)
        name = self.raw[i:name_end].strip().strip("【】[]「」《》\"“”'")
        name = re.sub(r"(?:的|了|啊|呢|吧|(?<!哈)哈)+$", "", name) if len(name) > 3 else name  # not 美的, not 娃哈哈
        name = re.sub(r"(?<=..)(?:这个|那个|这家|那家)(?:客户|公司|单位)?$", "", name)  # 北京同创这个客户
        dept = re.fullmatch(r"(.{2,}?)(?:采购|信息|财务|技术|设备|运营|市场|行政|人事|科技|信息技术|it)(?:部|处|科)", name)
        if dept and _has_suffix(dept[1]):  # 北京美廉美超市采购部: the customer, not its department
            name_end -= len(name) - len(dept[1])
            name = dept[1]
        said = re.search(r"(?<=[a-zA-Z])\s+(\S+)$", name)
        if said and self._industry_word(fold(said[1]), aliases=True) and self.text[name_end:].strip():
            name = name[:said.start()]  # CloudPeak SaaS 预算…: the industry, not the name (Mailchimp SaaS alone: the name)
        english = re.match(r"([a-zA-Z][\w .&'-]*?)\s*[(（][^)）]*(?:[)）]|$)", name)
        if english:  # Lazada（来赞达）: the English name, the bracket only says it in Chinese
            name = english[1]
        name = re.sub(r"(?<=[\u4e00-\u9fff])\s*[(（][a-zA-Z][a-zA-Z .&'-]*[)）]$", "", name)  # 海尔集团（Haier）
        name, name_end = self._with_branch(name, name_end)
        if len(name) >= 2:
            self.lead.customer, self.lead.customer_sure = name, sure
            self.claim(i, name_end)

    def _field_cut_is_clear(self, at: int) -> bool:
        """A name run into 预算/行业/决策人 words ends there for sure; run into a bare value it may not."""
        return bool(re.match(rf"{_KEY.pattern}|做|是做|搞|属于|预算|决策|拍板|目前|现在|在", self.text[at:]))

    def _named_people(self) -> None:
        """「CIO刘总」 or 「院长」 on its own in a lead: a key person even without 决策人 or 拍板."""
        for start, end in self._pieces(spaced_person=True):
            raw = self.raw[start:end]
            titles = [t for t in re.split(rf"\s+|{_CONJUNCTIONS.pattern}", raw.strip()) if t]
            joined = [_squash(t) for t in _CONJUNCTIONS.split(raw.strip()) if t.strip()]  # 信息中心 主任 和 设备处 处长
            alone = all(self.titles.fullmatch(fold(t)) for t in titles)  # 院长, 局长 副局长, 分行行长和科技部主任
            if not alone and all(self.titles.fullmatch(fold(t)) for t in joined):
                titles, alone = joined, True
            people = [Person(None, _title_text(t)) for t in titles] if alone else self._people_in(start, end, strict=True)
            if people and not alone:  # 总经理宁总 财务总监许总 设备部长: a bare title among named people is one more
                people += [p for p in self._people_in(start, end) if p.name is None and p.title]
            said = re.match(r"[^说]{3,}?(?=说)", self.text[start:end])
            if not people and said:  # 信息部部长刘洋说今年有预算: the person before 说
                people = self._people_in(start, start + said.end(), strict=True)
                end = start + said.end() + 1 if people else end
            if people and all(p not in self.lead.decision_makers for p in people):
                self.lead.decision_makers += people
                self.claim(start, end)

    def _unknown(self) -> None:
        for start, end in self._pieces():
            piece = self.raw[start:end].strip()
            if not _FILLER.match(fold(piece)):
                self.lead.unknown.append(piece)


def _join_surnames(people: list[Person]) -> list[Person]:
    """老板姓黄 黄总说了算: 「姓黄」 is no name; the title goes to 黄总 said elsewhere, or stands alone."""
    joined = list(people)
    for said in people:
        surname = re.fullmatch(r"姓(.)", said.name or "")
        if not surname:
            continue
        joined.remove(said)
        same = next((k for k, p in enumerate(joined) if p.name and p.name.startswith(surname[1]) and not p.title), None)
        if same is None:
            joined.append(Person(None, said.title))
        else:
            joined[same] = Person(joined[same].name, said.title)
    return joined


def _surname(name: str | None) -> str | None:
    """老蔡, 小蔡, 蔡部长, 蔡总 → 蔡: the surname of a name said with 老/小 or an honorific."""
    if not name:
        return None
    if familiar := re.fullmatch(rf"[老小]({_SURNAME})", name):
        return familiar[1]
    said = re.fullmatch(rf"({_SURNAME})(?:{_HONORIFICS})", name)
    return said[1] if said else None


def _said_once(people: list[Person]) -> list[Person]:
    """采购部长老蔡 … 蔡部长说了算: one person said twice; the one with the fuller title stays."""
    kept = list(people)
    for one in people:
        other = next((p for p in kept if p is not one and _surname(p.name) and _surname(p.name) == _surname(one.name)
                      and p.title and (one.title is None or one.name.endswith(one.title)) and p.title.endswith(one.title or "")
                      and p.title != one.title), None)
        if other is not None and one in kept:
            kept.remove(one)
    return kept


def _squash(text: str) -> str:
    """Spaces out of a person's words, except between ASCII words (Jason Wang)."""
    return re.sub(r"(?<![a-zA-Z.])\s+|\s+(?![a-zA-Z])", "", text)


def _title_text(title: str) -> str:
    """CTO, ＣＴＯ and cto are one title; 「IT 总监」 is 「IT总监」, 「VP of Sales」 stays as typed."""
    title = _squash(title.strip())
    return fold(title).upper() if re.fullmatch(r"[a-z]{2,5}", fold(title)) else title


def _has_suffix(name: str) -> bool:
    name = re.sub(r"[(（][^()（）]{1,12}[)）]$", "", name)  # 某某有限公司（抖音电商）
    return any(name.endswith(s) for s in ORG_SUFFIXES)


def _tail_is_name(tail: str) -> bool:
    """After 科技 comes 有限公司 or (分公司): still the name."""
    return bool(re.fullmatch(r"(?:有限|股份|责任|分|子|总)*(?:公司|集团)?(?:[(（][^)）]{1,8}[)）])?", tail)) and tail != ""


def _split_both(folded: str, original: str) -> list[tuple[str, str]]:
    """The same split of the folded and the original text (fold keeps offsets)."""
    parts, last = [], 0
    for m in _CONJUNCTIONS.finditer(folded):
        parts.append((folded[last:m.start()], original[last:m.start()]))
        last = m.end()
    parts.append((folded[last:], original[last:]))
    return parts


def _as_written(value: str | None, folded: str, original: str) -> str | None:
    """The value with the rep's own letters (IT, not it); spaces squashed out of it may be back in the text."""
    if value is None:
        return None
    found = re.search(r"\s?".join(map(re.escape, value)), folded)
    return _squash(original[found.start():found.end()]) if found else value


def parse_people(text: str, vocab: Vocabulary) -> list[Person]:
    """People typed as an answer (财务总监老孙, 王总 CTO, 张总（CFO）、李主任), name and title in either order."""
    return _Parser(text, vocab)._people_in(0, len(text))


def parse_lead(text: str, vocab: Vocabulary) -> ParsedLead:
    """Every field the message states; the customer's name is cut at the first field or separator."""
    return _Parser(text, vocab).parse()
