import pytest

from handlers.leads import vocabulary
from nlp.leads import Person, parse_lead
from rules.loader import load_rules

VOCAB = vocabulary(load_rules().leads)


def parse(text: str):
    return parse_lead(text, VOCAB)


@pytest.mark.parametrize("text", [
    "新线索 杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估",
    "新线索：杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估",
    "杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估",
    "建个线索：客户：杭州云启网络科技；行业：互联网；预算：80万；决策人：李总CIO；阶段：方案评估",
    "新线索杭州云启网络科技互联网行业预算80w决策人是李总CIO目前在方案评估",
    "新线索\n1. 杭州云启网络科技\n2. 互联网\n3. 预算80w\n4. CIO李总拍板\n5. 在看方案",
])
def test_the_issue_lead_gives_the_same_fields_however_it_is_typed(text):
    lead = parse(text)
    assert (lead.customer, lead.customer_sure, lead.industry, lead.budget, lead.need_stage, lead.unknown) == (
        "杭州云启网络科技", True, "互联网", 800_000, "方案评估", [])
    assert lead.decision_makers == [Person("李总", "CIO")]


@pytest.mark.parametrize(("said", "budget", "band"), [
    ("预算80w", 800_000, None), ("预算80万", 800_000, None), ("预算八十万", 800_000, None),
    ("预算1.2亿", 120_000_000, None), ("预算1,200,000元", 1_200_000, None), ("预算 80万", 800_000, None),
    ("预算在百万级", None, "百万级"), ("预算上千万", None, "千万级"), ("预算800000", 800_000, None),
])
def test_budget_in_any_unit_or_as_a_band(said, budget, band):
    lead = parse(f"新线索 某某科技 {said}")
    assert (lead.customer, lead.budget, lead.budget_band) == ("某某科技", budget, band)


@pytest.mark.parametrize(("said", "people"), [
    ("决策人是李总CIO", [Person("李总", "CIO")]),
    ("财务总监老孙是决策人", [Person("老孙", "财务总监")]),
    ("拍板的是分管院长", [Person(None, "分管院长")]),
    ("CTO王明拍板", [Person("王明", "CTO")]),
    ("关键人张总（CFO）", [Person("张总", "CFO")]),
    ("决策人 赵行长", [Person("赵行长", "行长")]),
    ("决策人：王总 CTO、采购经理刘洋", [Person("王总", "CTO"), Person("刘洋", "采购经理")]),
    ("张总CEO王总CFO", [Person("张总", "CEO"), Person("王总", "CFO")]),
    ("最后是刘总说了算", [Person("刘总", None)]),
])
def test_decision_makers_in_either_order_and_several(said, people):
    lead = parse(f"新线索 某某集团，{said}")
    assert (lead.customer, lead.decision_makers) == ("某某集团", people)


@pytest.mark.parametrize(("said", "stage"), [
    ("在看方案", "方案评估"), ("评估方案中", "方案评估"), ("在调研", "需求调研"), ("刚开始了解需求", "需求调研"),
    ("走立项", "立项审批"), ("内部在报批", "立项审批"), ("准备招标", "招标采购"), ("下个月挂网", "招标采购"),
    ("已经立项准备招标了", "招标采购"), ("还没立项，在看方案", "方案评估"),
])
def test_need_stage_from_phrases_the_furthest_one_not_a_negated_one(said, stage):
    lead = parse(f"新线索 某某集团，{said}")
    assert (lead.customer, lead.need_stage, lead.unknown) == ("某某集团", stage, [])


@pytest.mark.parametrize(("name", "industry"), [
    ("北京协和医院", "医疗"), ("徽商银行", "金融"), ("成都七中学校", "教育"), ("永辉超市", "零售"),
    ("郑州大学第一附属医院", "医疗"), ("德邦物流", "物流"), ("北京同创科技", None),
])
def test_industry_implied_by_a_word_in_the_name_the_last_word_deciding(name, industry):
    assert (parse(f"新线索 {name}").customer, parse(f"新线索 {name}").industry) == (name, industry)


def test_the_name_is_never_a_sentence_and_a_guessed_end_is_flagged():
    lead = parse("新线索 大连远洋他们想做个数字化平台预算五十万左右王总说了算")
    assert (lead.customer, lead.customer_sure, lead.budget) == ("大连远洋", False, 500_000)
    assert lead.unknown == ["他们想做个数字化平台"]


def test_a_name_ended_by_an_org_suffix_or_a_separator_is_sure():
    assert parse("新线索 北京同创科技有限公司他们在搞数字化").customer_sure
    assert parse("新线索 北京同创科技有限公司他们在搞数字化").customer == "北京同创科技有限公司"
    assert parse("有个新客户叫无锡盛世，做物流的").customer_sure


def test_words_it_does_not_understand_are_reported_not_put_in_the_name():
    lead = parse("新线索 华东启明 随便 写写 预算50万")
    assert (lead.customer, lead.budget, lead.unknown) == ("华东启明", 500_000, ["随便", "写写"])


@pytest.mark.parametrize("text", ["", "新线索", "新线索 ：", "新线索 👍🙏"])
def test_nothing_stated_gives_an_empty_lead(text):
    lead = parse(text)
    assert (lead.customer, lead.industry, lead.budget, lead.decision_makers, lead.need_stage) == ("", None, None, [],
                                                                                                    None)


def test_a_pasted_business_card_gives_the_customer_and_one_person_and_no_phone_as_budget():
    lead = parse("杭州云帆物流有限公司\n姓名：张伟\n职务：总经理\n手机：138-1234-5678\n邮箱：zw@yunfan.com\n地址：杭州市余杭区文一西路")
    assert (lead.customer, lead.industry, lead.budget, lead.unknown) == ("杭州云帆物流有限公司", "物流", None, [])
    assert lead.decision_makers == [Person("张伟", "总经理")]


@pytest.mark.parametrize("text", [
    "帮我记一下啊 某某精密五金厂 预算60万", "录一下：客户=某某精密五金厂，预算=60万", "👉某某精密五金厂 预算60万",
    "对方是某某精密五金厂的，预算60万", "有个客户想上MES 叫某某精密五金厂 预算60万", "本地老字号 某某精密五金厂 预算60万",
])
def test_chatter_or_a_descriptor_before_the_name_is_not_the_name(text):
    lead = parse(text)
    assert (lead.customer, lead.industry, lead.budget) == ("某某精密五金厂", "制造业", 600_000)


def test_the_need_stage_said_as_now_wins_over_a_later_plan():
    assert parse("新线索 某某机械 现在刚开始调研 明年立项").need_stage == "需求调研"
    assert parse("新线索 某某机械 已经立项准备招标").need_stage == "招标采购"


@pytest.mark.parametrize(("text", "customer"), [
    ("录个线索吧麻烦了 常州天宁精密机械有限公司 预算60万", "常州天宁精密机械有限公司"),
    ("有个医院想做互联网医院平台 嘉兴市第一医院 预算300万", "嘉兴市第一医院"),
    ("今天跑了一趟烟台港集团 信息部部长老于", "烟台港集团"),
    ("新线索 宁波华翔电子？不对 是宁波华翔汽车电子 预算90万", "宁波华翔汽车电子"),
    ("新线索 Lazada（来赞达）电商平台 预算100万", "Lazada"),
    ("录个线索 Mailchimp SaaS", "Mailchimp SaaS"),
    ("新线索 Moka SaaS 预算30万", "Moka"),
    ("客户转发：我们是南阳市第二人民医院，预算200万", "南阳市第二人民医院"),
    ("有个新机会 石家庄以岭药业 预算1000w", "石家庄以岭药业"),
])
def test_the_org_shaped_name_wins_over_chatter_and_a_corrected_name_over_the_first(text, customer):
    assert parse(text).customer == customer


def test_the_org_type_word_and_not_a_product_gives_the_industry():
    assert parse("新线索 浙江大学医学院附属邵逸夫医院 要做互联网医院").industry == "医疗"
    assert parse("日照港 预算一千万 在招标").industry == "物流"
    assert parse("新线索 沧州渤海钢铁设备维修公司").industry == "制造业"


@pytest.mark.parametrize(("text", "people"), [
    ("新线索 Anker 预算120万 CTO叫Kevin", [Person("Kevin", "CTO")]),
    ("新线索 兰州华润钢铁 老板姓黄 黄总说了算", [Person("黄总", "老板")]),
    ("新线索 长沙芙蓉区城管局 对接人是刘处长（信息中心主任）", [Person("刘处长", "信息中心主任")]),
    ("新线索 顺德市公安局交警大队 预算三百万 支队长", [Person(None, "支队长")]),
    ("新线索 德邦物流 物流总监孙总 采购经理小马", [Person("孙总", "物流总监"), Person("小马", "采购经理")]),
    ("今天认识了合肥工业大学的网络中心主任杨老师", [Person("杨老师", "网络中心主任")]),
    ("今天跑了一趟天津港集装箱码头公司 信息部部长刘洋说今年有预算", [Person("刘洋", "信息部部长")]),
    ("认识了个老板 叫 晋中美特好超市 老板郝总就是决策人", [Person("郝总", "老板")]),
])
def test_people_said_with_叫_姓_as_contacts_or_in_a_list_keep_their_titles(text, people):
    assert parse(text).decision_makers == people


def test_an_explicit_figure_after_a_range_is_the_budget_and_comparing_vendors_is_evaluating():
    lead = parse("新线索 厦门国际银行 预算七八十万 先写75万 想对比几家的方案")
    assert (lead.customer, lead.budget, lead.need_stage, lead.unknown) == ("厦门国际银行", 750_000, "方案评估", [])


@pytest.mark.parametrize(("text", "customer", "sure"), [
    ("今天和温州鹿城农商银行的郑行长吃了个饭 预算六十万", "温州鹿城农商银行", True),
    ("嗯刚才去了台州路桥汽配城然后他们说要上进销存", "台州路桥汽配城", False),  # no suffix: asked to confirm
    ("我刚从连云港港口集团出来他们想做堆场系统", "连云港港口集团", True),
    ("客户发来的：你好我是赣州银行信息科技部的 想了解风控", "赣州银行", True),
    ("录个线索湖州第一中学智慧校园预算四十万", "湖州第一中学", True),
    ("绍兴柯桥轻纺城连锁有个新需求 预算二十万", "绍兴柯桥轻纺城连锁", False),
    ("今天认识了个客户 华为某研究所 先记华为 预算五百万", "华为", True),
    ("新线索 宁波舟山港物流 哦不对是宁波舟山港集团 预算三千万", "宁波舟山港集团", True),
    ("有个新客户叫一点点奶茶，社区门店，店长小何", "一点点奶茶", True),
    ("名片\n李明\n采购经理\n苏州工业园区物流有限公司\n手机 13900000000", "苏州工业园区物流有限公司", True),
])
def test_the_name_after_an_opener_ends_where_talk_starts_and_a_placeholder_or_correction_is_not_saved(text, customer, sure):
    lead = parse(text)
    assert (lead.customer, lead.customer_sure) == (customer, sure)


@pytest.mark.parametrize(("said", "budget", "band"), [
    ("预算七八十万", None, "百万以下"), ("预算20-30万", None, "百万以下"), ("预算三五百万", None, "百万级"),
    ("预算一百多万", None, "百万级"), ("预算一个多亿", None, "亿级"), ("预算三十来万", 300_000, None),
    ("预算八十万左右", 800_000, None), ("预算一个亿左右", 100_000_000, None),
    ("预算两百到三百万", None, "百万级"), ("预算七位数", None, "百万级"), ("预算：150万元人民币", 1_500_000, None),
])
def test_a_range_or_多_is_a_band_while_来_and_左右_keep_the_amount(said, budget, band):
    lead = parse(f"新线索 某某科技 {said}")
    assert (lead.budget, lead.budget_band) == (budget, band)


@pytest.mark.parametrize(("text", "industry"), [
    ("新线索 泉州晋江鞋业", "制造业"),
    ("新线索 大连北方口腔", "医疗"),
    ("新线索 杭州某某平台 做互联网金融的", "金融"),
    ("帮忙记下 广州某某电商 电商 预算五十万", "互联网"),
    ("今天认识了成都第七中学的信息主任，他们要做物流配送系统", "教育"),
    ("有家SaaS公司叫 TalkFlow 预算20万", "互联网"),
    ("新线索 浙江省某某发展管理局", "政府"),
    ("新线索 某某人寿", "金融"),
])
def test_the_industry_from_type_words_and_not_from_what_they_plan(text, industry):
    assert parse(text).industry == industry


@pytest.mark.parametrize(("text", "people"), [
    ("新线索 南宁华南物流 老板蒙总说预算几十万", [Person("蒙总", "老板")]),
    ("新线索 福州大学 副校长林建平负责", [Person("林建平", "副校长")]),
    ("新线索 合肥物流园 负责人物流园主任许强", [Person("许强", "物流园主任")]),
    ("转：我们是漳州某某纸业，请联系我 采购经理 黄磊", [Person("黄磊", "采购经理")]),
    ("新线索 宁波港 决策人 总裁办", [Person(None, "总裁办")]),
    ("新线索 桂林某某酒店 联系人 前台主管 不是决策人", []),
    ("新线索 三亚某某酒店 对接的是销售经理小吴 但他不拍板", []),
    ("新线索 日喀则人民医院 院长 次旦", [Person("次旦", "院长")]),
    ("今天在展会上认识了深圳大疆创新的CTO", [Person(None, "CTO")]),
    ("名片：王芳｜信息技术部总经理｜广发银行佛山分行｜电话0757-1234567", [Person("王芳", "信息技术部总经理")]),
])
def test_people_said_with_a_verb_noise_a_negation_or_on_a_card(text, people):
    assert parse(text).decision_makers == people


def test_one_person_said_twice_a_department_before_的_and_a_meeting_after_the_title():
    lead = parse("跟你说个事 今天碰到了徐州重型机械集团的设备部长老葛 他们要上EAM 葛部长说了算")
    assert (lead.customer, lead.decision_makers) == ("徐州重型机械集团", [Person("老葛", "设备部长")])
    lead = parse("那个 今天下午去了趟 无锡人民医院 他们信息处的钱处长说今年有预算")
    assert (lead.customer, lead.decision_makers) == ("无锡人民医院", [Person("钱处长", "信息处处长")])
    lead = parse("我刚和苏州大学附属第一医院的信息中心主任聊完，他们要做互联网医院")
    assert (lead.customer, lead.decision_makers) == ("苏州大学附属第一医院", [Person(None, "信息中心主任")])


@pytest.mark.parametrize(("text", "customer", "band"), [
    ("客户 农业银行 宁波分行 预算三百万", "农业银行宁波分行", None),
    ("新客户 格力集团（Gree） 预算两千万", "格力集团", None),
    ("帮我建一个 湖南长沙水业 预算在一千万到一千五百万之间", "湖南长沙水业", "千万级"),
])
def test_a_branch_after_a_space_joins_the_name_and_an_english_bracket_after_a_chinese_name_is_dropped(text, customer, band):
    lead = parse(text)
    assert (lead.customer, lead.budget_band, lead.unknown) == (customer, band, [])


def test_a_title_then_是_or_的_and_the_name_and_only_a_few_words_around_a_band_or_stage():
    lead = parse("今天拜访了一家物流公司 叫 德邦快递 他们的CTO 是陈总 预算好几百万 还在了解")
    assert (lead.customer, lead.decision_makers, lead.budget_band, lead.need_stage, lead.unknown) == (
        "德邦快递", [Person("陈总", "CTO")], "百万级", "需求调研", [])
    assert parse("新线索 郑州某某重工 拍板的是副总经理兼CFO的刘总").decision_makers == [Person("刘总", "副总经理兼CFO")]


@pytest.mark.parametrize(("text", "customer", "people"), [
    ("刚跟朋友介绍的一家公司通了电话：泉州建发物流，预算八十万", "泉州建发物流", []),
    ("商机：四川郎酒 预算：3000w 拍板：董事长", "四川郎酒", [Person(None, "董事长")]),
    ("这周见了两次的那个客户 杭州娃哈哈 预算300万 宗总说了算", "杭州娃哈哈", [Person("宗总", None)]),
    ("今天上午去拜访了合肥京东方光电，他们生产副总周总说今年要上MES", "合肥京东方光电", [Person("周总", "生产副总")]),
])
def test_a_header_before_a_colon_or_a_visit_said_before_the_name_is_not_the_name(text, customer, people):
    lead = parse(text)
    assert (lead.customer, lead.decision_makers) == (customer, people)


def test_people_title_first_with_a_name_outside_the_surname_list_a_gender_bracket_and_a_long_department():
    lead = parse("今天在客户那边碰到的 温州某某电气 决策人 总经理南国栋 技术副总 朱总")
    assert (lead.customer, lead.decision_makers) == ("温州某某电气", [Person("南国栋", "总经理"), Person("朱总", "技术副总")])
    assert parse("录入：上海某某物流有限公司；决策人：COO王丽（女）").decision_makers == [Person("王丽", "COO")]
    assert parse("新线索 深圳某某银行 决策人：CIO 张总，总行科技部 李总").decision_makers == [
        Person("张总", "CIO"), Person("李总", "总行科技部")]


def test_a_card_split_by_slashes_phones_without_a_key_and_a_referrer_who_is_no_decision_maker():
    lead = parse("名片：林思远 / 浙江省人民医院 / 信息中心副主任 / 0571-87783777")
    assert (lead.customer, lead.decision_makers, lead.unknown) == (
        "浙江省人民医院", [Person("林思远", "信息中心副主任")], [])
    lead = parse("这是客户名片\n华润置地（深圳）有限公司\nIT经理 张三\n电话 0755-12345678\n手机 13800000000")
    assert (lead.customer, lead.decision_makers, lead.budget, lead.unknown) == (
        "华润置地（深圳）有限公司", [Person("张三", "IT经理")], None, [])
    lead = parse("兴业银行厦门分行 客户经理小黄介绍的 预算三十万")
    assert (lead.customer, lead.decision_makers, lead.budget) == ("兴业银行厦门分行", [], 300_000)


@pytest.mark.parametrize(("text", "customer", "industry"), [
    ("昨晚饭局上认识的 佛山某某调味食品 预算两百万", "佛山某某调味食品", "制造业"),
    ("徐工集团的一个子公司 徐工某某 预算500万", "徐工某某", None),
    ("有个做光伏的客户 西安某某绿能 预算大几千万", "西安某某绿能", "能源"),
    ("刚刚电话沟通了 浙江某某研究院 他们在调研", "浙江某某研究院", None),
    ("展会上认识的 上海某某医疗 预算八百万", "上海某某医疗", "医疗"),
    ("老板让我跟进的 合肥某某讯飞 预算五百万", "合肥某某讯飞", None),
    ("上次拜访过的 江苏某某医药 预算三百万", "江苏某某医药", "医疗"),
])
def test_more_openers_and_descriptors_before_the_name(text, customer, industry):
    lead = parse(text)
    assert (lead.customer, lead.industry) == (customer, industry)


@pytest.mark.parametrize(("text", "industry"), [
    ("新线索 无锡某某电器 做家电制造的 预算五十万", "制造业"),
    ("新线索 南京某某 他们在做物流的", "物流"),
    ("新线索 江苏某某医院 在做物流配送系统", "医疗"),
])
def test_what_they_do_said_with_的_is_the_industry_and_a_project_is_not(text, industry):
    assert parse(text).industry == industry


def test_departments_and_titles_written_apart_are_one_title_each():
    lead = parse("新线索 四川某某医院 预算一千万 信息中心 主任 和 设备处 处长 在评审方案")
    assert (lead.decision_makers, lead.need_stage, lead.unknown) == (
        [Person(None, "信息中心主任"), Person(None, "设备处处长")], "方案评估", [])
    assert parse("新线索 某某医院 院长 信息中心主任 招标").decision_makers == [Person(None, "院长"), Person(None, "信息中心主任")]
    assert parse("新线索 重庆某某汽车 拍板的人是数字化部的部长").decision_makers == [Person(None, "数字化部部长")]


def test_english_keys_and_a_cue_word_before_a_title_in_a_list():
    lead = parse("customer: Acme Foods, industry: 制造业, budget: 5M, DM: CIO Arthur Hu, stage: POC")
    assert (lead.customer, lead.industry, lead.budget, lead.decision_makers, lead.need_stage) == (
        "Acme Foods", "制造业", 5_000_000, [Person("Arthur Hu", "CIO")], "方案评估")
    assert parse("• 客户 厦门某某集团\n• 拍板 董事长许总").decision_makers == [Person("许总", "董事长")]


def test_a_suffix_inside_a_bracket_after_the_name_does_not_cut_it():
    assert parse("新线索 某某港口控股有限公司（某某港口） 物流 预算3000万").customer == "某某港口控股有限公司（某某港口）"


def test_chatter_with_spaces_before_the_command_words():
    lead = parse("那个 帮我记一下 今天见的宁波某某研究院 他们研发副院长 胡院长 拍板")
    assert (lead.customer, lead.decision_makers, lead.unknown) == ("宁波某某研究院", [Person("胡院长", "研发副院长")], [])


@pytest.mark.parametrize("text", ["【新线索】武汉某某集团｜预算150万｜CIO 谭总", "新线索 武汉某某集团 = 预算150万 = CIO 谭总"])
def test_a_bracketed_command_and_equals_signs_between_fields(text):
    lead = parse(text)
    assert (lead.customer, lead.budget, lead.decision_makers, lead.unknown) == (
        "武汉某某集团", 1_500_000, [Person("谭总", "CIO")], [])


def test_a_corrected_budget_a_forgotten_name_and_words_right_before_a_stage_in_a_run_on():
    lead = parse("新线索湖南某某钢铁集团预算大概两个亿不对是一个亿CIO李总在看方案")
    assert (lead.budget, lead.decision_makers, lead.need_stage) == (100_000_000, [Person("李总", "CIO")], "方案评估")
    lead = parse("新线索那个叫什么来着对苏州某某纺织业预算一百五十万")
    assert (lead.customer, lead.budget) == ("苏州某某纺织业", 1_500_000)
    lead = parse("今天下午拜访了南京某某股份有限公司预算四五百万吧物流总监张总说了算目前刚立项")
    assert (lead.decision_makers, lead.need_stage, lead.unknown) == ([Person("张总", "物流总监")], "立项审批", [])


@pytest.mark.parametrize(("text", "person"), [
    ("新线索 某某集团 董事长兼总经理 郭总", Person("郭总", "董事长兼总经理")),
    ("新线索 某某钢铁 CIO兼副总李总", Person("李总", "CIO兼副总")),
])
def test_two_titles_joined_by_兼_are_one_title(text, person):
    assert parse(text).decision_makers == [person]
