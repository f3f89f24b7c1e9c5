"""Options and their values: bot/playbook/validate.py, the value types (types.py), and every ability's own
validators (triggers, conditions, flow, handlers/*), as they reach an operator after `'name' `."""

MESSAGES = {
    # -- how validate.py puts a value problem together
    "'{name}' {what:msg}; got {got:got}": "'{name}' {what}；现在是 {got}",
    "a key of '{name}' {what:msg}; got {got:got}": "'{name}' 的键{what}；现在是 {got}",
    "'{name}' {what:msg}": "'{name}' {what}",
    "'{owner:word}' needs '{name}'": "'{owner}' 需要 '{name}'",
    "unknown key '{key}' in '{owner:word}'{hint:msg}": "'{owner}' 里有未知的键 '{key}'{hint}",
    "; '{owner:word}' takes {names:list}": "；'{owner}' 可以写 {names}",
    "; '{owner:word}' takes no options: write '{same:word}: {{}}'": "；'{owner}' 没有选项：写成 '{same}: {{}}'",
    "'{name}' must be {choices:choices}; got '{got}'{hint:msg}": "'{name}' 必须是 {choices} 之一；现在是 '{got}'{hint}",
    "'{name}' must be {choices:choices}; got {got:got}": "'{name}' 必须是 {choices} 之一；现在是 {got}",
    "'{name}' needs at least {count} item; got {got:got}": "'{name}' 至少要有 {count} 项；现在是 {got}",
    "'{name}' needs at least {count} items; got {got:got}": "'{name}' 至少要有 {count} 项；现在是 {got}",
    "'{name}' takes at most {count} items; got {got:got}": "'{name}' 最多 {count} 项；现在是 {got}",
    # -- what a value must be
    "must be a whole number": "必须是整数",
    "must be a number": "必须是数字",
    "must be true or false": "必须是 true 或 false",
    "must be text": "必须是文本",
    "must be a list": "必须是列表",
    "must be a mapping of options": "必须是选项的映射",
    "must be >= {limit}": "必须 >= {limit}",
    "must be > {limit}": "必须 > {limit}",
    "must be <= {limit}": "必须 <= {limit}",
    "must be < {limit}": "必须 < {limit}",
    "must be lower-case letters, digits and '-', starting with a letter or digit": (
        "只能用小写字母、数字和 '-'，并以字母或数字开头"
    ),
    "must match the pattern '{pattern}'": "必须符合格式 '{pattern}'",
    "must not be empty": "不能为空",
    "must be at most {count} characters": "最多 {count} 个字符",
    "is not valid here": "在这里无效",
    # -- value types (bot/playbook/types.py)
    "must be a duration like 30s, 10m, 2h, 1d": "必须是时长，例如 30s、10m、2h、1d",
    "must be longer than 0s": "必须长于 0s",
    "must be a time like 09:00": "必须是时间，例如 09:00",
    "must be a weekday (mon, tue, ... sun or 周一 ... 周日)": "必须是星期几（mon、tue……sun 或 周一……周日）",
    "must be a local date and time like 2026-12-12 20:00": "必须是本地日期和时间，例如 2026-12-12 20:00",
    "has a template error on its line {line}: {detail:msg}": "第 {line} 行有模板错误：{detail}",
    "must be an expression like 'member.points >= 100'": "必须是表达式，例如 'member.points >= 100'",
    "is not a valid expression: {detail:msg}": "不是有效的表达式：{detail}",
    "must be a regular expression in quotes": "必须是加引号的正则表达式",
    "is not a valid regular expression: {detail:msg} (in '{pattern}')": (
        "不是有效的正则表达式：{detail}（在 '{pattern}' 里）"
    ),
    "must be a cron line of 5 fields (minute hour day month weekday), like '0 20 * * WED'": (
        "必须是 5 段的 cron 表达式（分 时 日 月 星期），例如 '0 20 * * WED'"
    ),
    "is not a valid cron line: {detail:msg}; got '{got}'": "不是有效的 cron 表达式：{detail}；现在是 '{got}'",
    "weekday '{token}' is not 0-7 or sun..sat": "星期 '{token}' 不是 0-7 或 sun..sat",
    "weekday step '{step}' is not a positive number": "星期的步长 '{step}' 不是正数",
    "weekday range '{span}' runs backwards": "星期范围 '{span}' 写反了",
    # -- triggers (bot/triggers.py)
    "'{name}' needs exactly one of {options:list}; got {given:list}": (
        "'{name}' 只能写 {options} 中的一个；现在写了 {given}"
    ),
    "'{name}' needs exactly one of {options:list}; got none": "'{name}' 要写 {options} 中的一个；现在一个都没写",
    "'message' needs a non-empty text or keyword": "'message' 需要非空的 text 或 keyword",
    "'command' must be one word like 积分; got '{got}'": "'command' 必须是一个词，例如 积分；现在是 '{got}'",
    "'has' takes {options:list}; got '{got}'{hint:msg}": "'has' 只能写 {options}；现在是 '{got}'{hint}",
    "'has' needs at least one of {options:list}": "'has' 至少要写 {options} 中的一个",
    "'words' names a word list declared under 'wordlists:', like 'words: ads'; "
    "for a few words of this playbook, use 'keywords:'": (
        "'words' 写的是在 'wordlists:' 下声明的词表名，例如 'words: ads'；只是这个剧本自己的几个词，请用 'keywords:'"
    ),
    # -- config.yaml's moderation section (bot/moderation/config.py)
    "'domains' takes domain names like shop.example.com; got '{got}'": (
        "'domains' 要写域名，例如 shop.example.com；现在是 '{got}'"
    ),
    "'miniprograms' takes mini-program appids like wx0123456789abcdef; got '{got}'": (
        "'miniprograms' 要写小程序的 appid，例如 wx0123456789abcdef；现在是 '{got}'"
    ),
    # -- conditions and flow (bot/conditions.py, bot/flow.py)
    'must be two times like ["09:00", "22:00"]': '必须是两个时间，例如 ["09:00", "22:00"]',
    "is for short pauses of at most 10m; use a 'schedule' for later follow-ups": (
        "只用于不超过 10m 的短暂停顿；之后的跟进请用 'schedule'"
    ),
    # -- abilities (handlers/*)
    "must be up to 6 capital letters or digits, like WK": "最多 6 个大写字母或数字，例如 WK",
    "is {count} characters long; a WeChat group announcement takes at most {limit}": (
        "有 {count} 个字；微信群公告最多 {limit} 个字"
    ),
    "'valid_for' and 'expires' are both given: keep one "
    "(valid_for = how long each coupon lasts, expires = one end date for all)": (
        "'valid_for' 和 'expires' 都写了：只保留一个（valid_for = 每张券的有效期，expires = 所有券统一的截止时间）"
    ),
    "'title' is needed (what the member gets, like 定制杯子), unless the reward is a coupon: 'coupon: BATCH'": (
        "需要 'title'（成员换到什么，例如 定制杯子），除非这个奖品是一张券：'coupon: 券批次'"
    ),
    "'stock' is needed (how many there are), unless the reward is a coupon: 'coupon: BATCH'": (
        "需要 'stock'（一共有多少份），除非这个奖品是一张券：'coupon: 券批次'"
    ),
    "'{key:word}' is set by coupon batch '{batch}' for a reward that is a coupon: "
    "remove it here, or remove 'coupon' to give the reward its own stock": (
        "这个奖品是券批次 '{batch}' 的券，'{key}' 由券批次决定："
        "请删掉这里的 '{key}'，或删掉 'coupon' 让奖品有自己的库存"
    ),
    "'tags' needs any, all or none, like {{any: [VIP]}}": "'tags' 需要 any、all 或 none，例如 {{any: [VIP]}}",
    "keys are streak days (1, 2, ...), like {{7: 20, 30: 100}}": (
        "的键是连续签到的天数（1、2……），例如 {{7: 20, 30: 100}}"
    ),
    "values are points added on that streak day, 0 or more; day {day} has {points}": (
        "的值是连续签到到那一天时加的积分，不能是负数；第 {day} 天现在是 {points}"
    ),
    "must be a number or a comparison like '>=14'; got {got}": "必须是数字或比较式，例如 '>=14'；现在是 {got}",
    "must be a number or a comparison like '>=14' or '<7'": "必须是数字或比较式，例如 '>=14' 或 '<7'",
    "must be a number like 500 or a quantile from p1 to p99 like p80": (
        "必须是数字（例如 500）或分位数（p1 到 p99，例如 p80）"
    ),
    "'segment' needs at least one filter, like {{lifecycle: dormant}}": (
        "'segment' 至少要有一个筛选条件，例如 {{lifecycle: dormant}}"
    ),
    # -- member fields (handlers/profile_fields.py)
    "'{id}' is already a member field (member.{field}): give this field another id": (
        "'{id}' 已经是会员字段（member.{field}）了：给这个字段换一个 id"
    ),
    "the id 'birthday' is for a field of type birthday ('birthday: today' segments read it)": (
        "id 'birthday' 只能用于 birthday 类型的字段（'birthday: today' 分群读的就是它）"
    ),
    "'max_length' is for fields of type text": "'max_length' 只用于 text 类型的字段",
    "'min' and 'max' are for fields of type number": "'min' 和 'max' 只用于 number 类型的字段",
    "'min' is more than 'max'": "'min' 比 'max' 还大",
    # -- scenario files (bot/scenario.py)
    "each step is a one-key mapping like '- say: {{...}}'; got {got:got}": (
        "每个步骤都是只有一个键的映射，例如 '- say: {{...}}'；现在是 {got}"
    ),
    "unknown step '{kind}'{hint:msg}": "未知的步骤 '{kind}'{hint}",
    "'{kind}' takes a mapping, like '{same}: {{member: u1, ...}}'": (
        "'{kind}' 要写成映射，例如 '{same}: {{member: u1, ...}}'"
    ),
    "a scenario is a mapping with name, rooms, members, steps; got {got:got}": (
        "场景是含 name、rooms、members、steps 的映射；现在是 {got}"
    ),
    "'{value}' is not in this scenario's members": "'{value}' 不在这个场景的成员里",
    "'{value}' is not in this scenario's rooms": "'{value}' 不在这个场景的群里",
    "'say' needs a text, or a kind other than text (e.g. kind: image, qr: ...)": (
        "'say' 要写 'text'，或者写一个不是 'text' 的 'kind'（例如 'kind: image, qr: ...'）"
    ),
    "'check' cannot read '{key}'{hint:msg}": "'check' 读不了 '{key}'{hint}",
    "'check' needs something to compare: {names:list}": "'check' 需要写出要比较的内容：{names}",
    "a removal has no text: 'removed' takes only 'from'": "移出不是消息，没有文字：'removed' 只能配 'from'",
    "'from' goes with 'removed': the group a member was removed from": "'from' 要和 'removed' 一起写：成员被移出的群",
    "'announced' names the group whose announcement was set: it takes only 'contains' or 'regex'": (
        "'announced' 写的是设置了群公告的群：只能配 'contains' 或 'regex'"
    ),
    # -- config.yaml (bot/config.py)
    "config file not found": "找不到配置文件",
    "config.yaml must be a mapping of settings": "config.yaml 必须是设置项的映射",
    "'rooms' entries need an 'id' or a 'topic'": "'rooms' 的每一项都要有 'id' 或 'topic'",
    "'timezone' must be an IANA zone like Asia/Shanghai; got '{got}'": (
        "'timezone' 必须是 IANA 时区，如 Asia/Shanghai；现在是 '{got}'"
    ),
    "'web.listen' must be host:port like 127.0.0.1:8080; got '{got}'": (
        "'web.listen' 必须写成 主机:端口，如 127.0.0.1:8080；现在是 '{got}'"
    ),
    "unknown command '{name}'{hint:msg}": "未知的命令 '{name}'{hint}",
    "account name '{name}' must be 1-32 lowercase letters, digits, '-' or '_' (and not 'default')": (
        "账号名 '{name}' 只能用 1-32 个小写字母、数字、'-' 或 '_'（也不能叫 'default'）"
    ),
    "'fleet.heartbeat' must be longer than 0s": "'fleet.heartbeat' 必须大于 0 秒",
    "'fleet.heartbeat' must be shorter than 'fleet.lease', or leases run out between beats": (
        "'fleet.heartbeat' 必须比 'fleet.lease' 短，否则两次心跳之间租约就会过期"
    ),
    "'fleet.hold' must be longer than 'fleet.lease', or held events go before a takeover": (
        "'fleet.hold' 必须比 'fleet.lease' 长，否则接管之前暂存的消息就已经删掉了"
    ),
    "'{key}' sets /{name} again (already set as '{first}')": "'{key}' 又设置了一次 /{name}（前面已写作 '{first}'）",
}

# Words that fill a {name:term} or {name:got} placeholder.
TERMS = {
    "config": "配置",
    "scenario": "场景",
}
