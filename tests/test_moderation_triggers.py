"""Moderation triggers (issue 13 item 2): `message: {has: [...]}` and `message: {words: LIST}` catch the advertiser
in the moderation stage, before commands, windows and other playbooks, and the message they act on goes no
further; staff, exempt members and the shop's own links are never moderated."""

from __future__ import annotations

import logging

import pytest
from moderation_chat import COUPON, playbooks, post

from bot.config import Config, StaffSection
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

ANTI_AD = """
    id: anti-ad
    name: 防广告
    when:
      - message: {has: [link, qrcode, card, miniprogram, phone]}
      - message: {words: ads}
    do:
      - reply: "请勿发广告"
        mention: true
    wordlists:
      ads: [加微信, 加V, 兼职刷单, 日结, 代理招募]
"""
SHOP = {"allow": {"domains": ["shop.example.com"], "miniprograms": ["wx0123456789abcdef"],
                  "qr_prefixes": ["https://shop.example.com/pay"]}, "exempt_tags": ["白名单"]}  # fmt: skip
CONFIG = Config.model_validate({"staff": {"staff": ["clerk"]}, "moderation": SHOP})
WARNED = ["请勿发广告"]


@pytest.fixture
async def bot() -> TestBot:
    async with TestBot.running(playbooks(anti_ad=ANTI_AD, coupon=COUPON), config=CONFIG) as running:
        yield running


async def test_a_link_card_a_qr_image_a_contact_card_and_a_mini_program_are_adverts(bot: TestBot) -> None:
    assert await post(bot, "u9", kind="link", url="https://t.cn/abc", title="赚钱秘籍") == WARNED
    assert await post(bot, "u9", kind="image", qr="https://u.wechat.com/EAbc") == WARNED
    assert await post(bot, "u9", kind="card", title="兼职小妹") == WARNED
    assert await post(bot, "u9", kind="miniprogram", url="wxfedcba9876543210/pages/index", title="领红包") == WARNED
    assert await post(bot, "u9", kind="image") == []  # a picture without a QR code is a picture
    assert await post(bot, "u9", "今天几点开门？") == []


async def test_a_url_in_a_text_is_a_link_and_the_run_sees_it_as_message_url() -> None:
    show = """
        id: show
        when:
          - message: {has: link}
        do:
          - reply: "链接 {{ message.url }}"
    """
    async with TestBot.running(playbooks(show=show)) as bot:
        assert await post(bot, "u9", "快来 https://evil.cn/a?b=1 和 http://x.top") == ["链接 https://evil.cn/a?b=1"]
        assert await post(bot, "u9", "看这里 ｗｗｗ．ｅｖｉｌ．ｃｎ／ｘ，很好") == ["链接 www.evil.cn/x"]
        assert await post(bot, "u9", "复制 abc.top/x 打开") == ["链接 abc.top/x"]
        assert await post(bot, "u9", "h t t p : / / w w w . k j 8 8 . c o m 注册") == ["链接 http://www.kj88.com"]
        assert await post(bot, "u9", "哈哈 www 好好笑，http 是什么") == []
        assert await post(bot, "u9", "价格 3.5 元，V1.2 版本，邮箱 a@qq.com 不算") == []


MOBILES = ["电话13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "１３８１２３４５６７８"]
MOBILES += ["1 3 8 1 2 3 4 5 6 7 8"]
EVASIONS = ["加 微-信 领福利", "加\u200b微\u200d信", "ｊｉａ 加ｖ", "➕V 私聊", "加.V!!", "日 结 兼 职", "兼职·刷单"]
EVASIONS += ["加V"]


@pytest.mark.parametrize("text", MOBILES)
async def test_a_mainland_mobile_number_is_caught_however_it_is_spaced(bot: TestBot, text: str) -> None:
    assert await post(bot, "u9", text) == WARNED


@pytest.mark.parametrize("text", ["订单号 12345678901", "价格 1380 元", "订单 138123456789012", "电话 010-12345678"])
async def test_numbers_that_are_not_mobile_numbers_are_not(bot: TestBot, text: str) -> None:
    assert await post(bot, "u9", text) == []


@pytest.mark.parametrize("text", EVASIONS)
async def test_evasive_spellings_of_a_listed_word_are_caught(bot: TestBot, text: str) -> None:
    assert await post(bot, "u9", text) == WARNED


@pytest.mark.parametrize("text", ["可以用微信支付吗", "我加了店长微信", "代我签到", "这个V领好看", "今天结账"])
async def test_ordinary_chat_that_looks_alike_is_not_caught(bot: TestBot, text: str) -> None:
    assert await post(bot, "u9", text) == []


async def test_an_advert_that_says_抢券_gets_no_coupon(bot: TestBot) -> None:
    assert await post(bot, "u9", "加微信抢券") == WARNED
    assert await post(bot, "u9", "http://evil.cn 抢券") == WARNED
    assert await post(bot, "u1", "抢券") == ["券来了"]


async def test_staff_and_members_with_an_exempt_tag_are_never_moderated(bot: TestBot) -> None:
    assert await post(bot, "clerk", "加微信抢券 https://evil.cn") == ["券来了"]
    assert await post(bot, "clerk", kind="card", title="店长") == []
    await bot.seed("vip", rooms=["r1"], tags=["白名单"])
    assert await post(bot, "vip", "兼职刷单 138 1234 5678 抢券") == ["券来了"]
    await bot.seed("other", rooms=["r1"], tags=["老顾客"])
    assert await post(bot, "other", "兼职刷单") == WARNED


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/item/1",
        "http://m.shop.example.com",
        "SHOP.EXAMPLE.COM/x",
        "https://shop.example.com./a",
    ],
)
async def test_the_shops_own_links_are_not_adverts(bot: TestBot, url: str) -> None:
    assert await post(bot, "u9", f"新品 {url}") == []
    assert await post(bot, "u9", kind="link", url=url, title="新品") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com.evil.cn/item",
        "https://evilshop.example.com/",
        "https://shop.example.com@evil.cn/",
        "https://evil.cn/?r=shop.example.com",
        "evil.cn/shop.example.com",
    ],
)
async def test_look_alikes_of_the_shops_domain_are_adverts(bot: TestBot, url: str) -> None:
    assert await post(bot, "u9", f"新品 {url}") == WARNED
    assert await post(bot, "u9", kind="link", url=url) == WARNED


async def test_a_text_with_the_shops_link_and_another_is_an_advert(bot: TestBot) -> None:
    assert await post(bot, "u9", "https://shop.example.com/a 还有 https://evil.cn/b") == WARNED


async def test_the_shops_qr_codes_and_mini_programs_are_not_adverts(bot: TestBot) -> None:
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/pay") == []
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/pay?order=7") == []
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/pay/7") == []
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/pay.evil.cn/x") == WARNED
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/payday") == WARNED
    assert await post(bot, "u9", kind="image", qr="https://shop.example.com/other") == WARNED
    assert await post(bot, "u9", kind="miniprogram", url="wx0123456789ABCDEF/pages/item") == []
    assert await post(bot, "u9", kind="miniprogram", url="wxfedcba9876543210/pages?from=wx0123456789abcdef") == WARNED
    assert await post(bot, "u9", kind="miniprogram", title="没有地址的小程序") == WARNED


async def test_moderation_triggers_listen_in_groups_unless_told(bot: TestBot) -> None:
    assert await post(bot, "u9", "加微信", room=None) == []
    private = """
        id: private
        when:
          - message: {words: spam, in: private}
        do:
          - reply: 私聊也不行
        wordlists:
          spam: [刷单]
    """
    async with TestBot.running(playbooks(private=private)) as other:
        assert await post(other, "u9", "刷 单", room=None) == ["私聊也不行"]
        assert await post(other, "u9", "刷单") == []


async def test_a_moderation_playbook_whose_conditions_do_not_hold_lets_the_message_go_on() -> None:
    newcomers = """
        id: newcomers
        when:
          - message: {has: link}
        if:
          - expr: "member.role == 'nobody'"
        do:
          - reply: 新人别发链接
    """
    async with TestBot.running(playbooks(newcomers=newcomers, coupon=COUPON)) as bot:
        assert await post(bot, "u9", "https://evil.cn 抢券") == ["券来了"]


async def test_a_failing_moderation_playbook_is_logged_and_the_message_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = """
        id: broken
        when:
          - message: {words: ads}
        if:
          - expr: "member.name > 3"
        do:
          - reply: 不会发出
        wordlists:
          ads: [加微信]
    """
    async with TestBot.running(playbooks(broken=broken, anti_ad=ANTI_AD.replace("ads", "ads2"), coupon=COUPON)) as bot:
        with caplog.at_level(logging.ERROR, logger="qunguan"):
            assert await post(bot, "u9", "加微信抢券") == ["请勿发广告"]
            assert await post(bot, "u8", "加 微信，抢券") == ["请勿发广告"]
        assert any("playbook broken" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    only_broken = playbooks(broken=broken, coupon=COUPON)
    async with TestBot.running(only_broken) as bot:
        assert await post(bot, "u9", "加微信抢券") == ["券来了"]


async def test_no_moderation_trigger_is_in_the_other_playbooks_index(bot: TestBot) -> None:
    index = bot.engine.playbooks.index
    assert {pb.id for pb in index.moderation.playbooks} == {"anti-ad"}
    every_other = [pb.id for entries in (*index.exact.values(), *index.keyword_hits.values()) for pb, _ in entries]
    assert "anti-ad" not in every_other and "anti-ad" not in [pb.id for pb, _ in index.regexes]


async def test_staff_commands_still_work_for_staff_and_an_advert_is_no_command() -> None:
    config = Config(staff=StaffSection(staff=["clerk"]))
    async with TestBot.running(playbooks(anti_ad=ANTI_AD), config=config) as bot:
        assert await post(bot, "u9", "/帮助 加微信") == WARNED
        assert await post(bot, "clerk", "/帮助 加微信")  # answered by the command, not moderated
