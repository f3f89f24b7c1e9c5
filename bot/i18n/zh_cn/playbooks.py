"""A playbook's structure (bot/playbook/builder.py, library.py), its templates' variables, and the warnings."""

MESSAGES = {
    # -- words the messages are built from
    " (did you mean '{word}'?)": "（是不是 '{word}'？）",
    # -- the file as a whole
    "file is empty: a playbook needs at least 'id', 'when' and 'do'": (
        "文件是空的：一个剧本至少要有 'id'、'when' 和 'do'"
    ),
    "a playbook is a mapping of keys (id, when, do, ...); got {got:got}": (
        "剧本是由键组成的映射（id、when、do……）；现在是 {got}"
    ),
    "'on' is not a key here (YAML reads it as true in many tools); put triggers under 'when:'": (
        "这里不能用 'on' 作键（很多工具会把它读成 true）：把触发条件写在 'when:' 下面"
    ),
    "unknown key '{key}'{hint:msg}": "未知的键 '{key}'{hint}",
    "; a playbook's keys are {keys:list}": "；剧本的键有 {keys}",
    "missing 'id': give the playbook a short id like 'daily-checkin'": (
        "缺少 'id'：给剧本起一个简短的 ID，例如 'daily-checkin'"
    ),
    "missing 'when': say what starts this playbook, e.g. 'when: [{{message: {{text: 签到}}}}]'": (
        "缺少 'when'：写明什么会启动这个剧本，例如 'when: [{{message: {{text: 签到}}}}]'"
    ),
    "missing 'do': list what the bot should do": "缺少 'do'：列出机器人要做的事",
    "'when' needs at least one trigger": "'when' 至少要有一个触发条件",
    "'rooms' must be a list of room topics, room ids or tag:NAME; got {got:got}": (
        "'rooms' 必须是群名、群 ID 或 tag:标签名 的列表；现在是 {got}"
    ),
    "unknown room tag '{tag}'{hint:msg}; config.yaml tags: {tags:list}": (
        "未知的群标签 '{tag}'{hint}；config.yaml 里的标签有：{tags}"
    ),
    "unknown room tag '{tag}'{hint:msg}; config.yaml tags no group": (
        "未知的群标签 '{tag}'{hint}；config.yaml 没有给任何群打标签"
    ),
    "'/{name}' is a built-in staff command (see /帮助); give this playbook's command another name, "
    "or delete the file if it is an old copy of a shipped playbook (redeem.yaml)": (
        "'/{name}' 是内置的店员命令（见 /帮助）：给这个剧本的命令换个名字；"
        "如果这是旧版自带剧本的副本（redeem.yaml），就删掉这个文件"
    ),
    # -- triggers, conditions and actions
    "each {kind:term} is a one-key mapping like '{example}'; got {got:got}": (
        "每个{kind}都是只有一个键的映射，例如 '{example}'；现在是 {got}"
    ),
    "unknown {kind:term} '{name}'{hint:msg}": "未知的{kind} '{name}'{hint}",
    " (/核销 is a built-in staff command now: delete the playbook that used 'redeem', like redeem.yaml)": (
        "（/核销 现在是内置的店员命令：删掉用了 'redeem' 的剧本，例如 redeem.yaml）"
    ),
    "one {kind:term} per list item: '{first}' and '{second}' share one; start a new '- ' item for each": (
        "每个列表项只能写一个{kind}：'{first}' 和 '{second}' 写在了同一项里；每个另起一个 '- ' 项"
    ),
    "'{name}' takes options as a mapping, like '{same}: {{}}'": "'{name}' 的选项要写成映射，例如 '{same}: {{}}'",
    "'{key}' is given twice in '{name}'": "'{key}' 在 '{name}' 里写了两次",
    "'{name}' needs '{body}': the actions to run, like '{same}: [...]'": (
        "'{name}' 需要 '{body}'：要运行的动作，例如 '{same}: [...]'"
    ),
    "'to' names '{target}', which this playbook does not have{hint:msg}": (
        "'to' 指向 '{target}'，但这个剧本里没有它{hint}"
    ),
    "'to' must name a member (member or inviter); got '{target}'": (
        "'to' 必须指向一个成员（member 或 inviter）；现在是 '{target}'"
    ),
    "'{name}' must be a list of {kind:term}s; got {got:got}": "'{name}' 必须是{kind}的列表；现在是 {got}",
    "'wait' works only directly in the playbook's 'do' list, not inside 'choose' or 'for_each'; "
    "move it out, or use a 'schedule' for a later follow-up": (
        "'wait' 只能直接写在剧本的 'do' 列表里，不能放在 'choose' 或 'for_each' 里面："
        "把它移出来，或者用 'schedule' 安排之后的跟进"
    ),
    # -- choose
    "'choose' stands alone in its list item; found '{extra}'": "'choose' 要单独占一个列表项；这里还有 '{extra}'",
    "'choose' takes a list of branches: '- if: [...]' with 'do: [...]', then '- else: [...]'": (
        "'choose' 接一个分支列表：'- if: [...]' 加 'do: [...]'，最后是 '- else: [...]'"
    ),
    "a 'choose' branch is a mapping with 'if' and 'do', or 'else'; got {got:got}": (
        "'choose' 的分支是含 'if' 和 'do'（或 'else'）的映射；现在是 {got}"
    ),
    "'else' must be the last branch of 'choose'": "'else' 必须是 'choose' 的最后一个分支",
    "unknown key '{key}' beside 'else'": "'else' 旁边有未知的键 '{key}'",
    "unknown key '{key}' in a 'choose' branch{hint:msg}": "'choose' 分支里有未知的键 '{key}'{hint}",
    "; a branch has 'if' and 'do', or is '- else: [...]'": "；分支要有 'if' 和 'do'，或者写成 '- else: [...]'",
    "this 'choose' branch has 'if' but no 'do': add 'do: [...]' with its actions": (
        "这个 'choose' 分支有 'if' 但没有 'do'：加上 'do: [...]'，写出要做的动作"
    ),
    "this 'choose' branch has 'do' but no 'if': add 'if: [...]', or make it the last branch as '- else: [...]'": (
        "这个 'choose' 分支有 'do' 但没有 'if'：加上 'if: [...]'，或者把它作为最后一个分支写成 '- else: [...]'"
    ),
    # -- resource blocks (coupons:, questions:) and what refers to them
    "'{block}' must be a list of {noun:term}s like '- {{id: ..., ...}}'": (
        "'{block}' 必须是{noun}的列表，例如 '- {{id: ..., ...}}'"
    ),
    "each {noun:term} is a mapping of options; got {got:got}": "每个{noun}都是选项的映射；现在是 {got}",
    "'{block}' must be a mapping of {noun:term} ids to lists; got {got:got}": (
        "'{block}' 必须是从{noun} ID 到列表的映射；现在是 {got}"
    ),
    "a {noun:term} id is lower-case letters, digits and '-'; got {got:got}": (
        "{noun} ID 只能用小写字母、数字和 '-'；现在是 {got}"
    ),
    "{noun:term} '{name}' needs a list of at least one entry": "{noun} '{name}' 至少要有一项",
    "each entry of {noun:term} '{name}' is a mapping; got {got:got}": "{noun} '{name}' 的每一项都是映射；现在是 {got}",
    "{noun:term} '{name}' is not declared{hint:msg}; declare it under '{block}:' in any playbook": (
        "{noun} '{name}' 没有声明{hint}：在任意一个剧本的 '{block}:' 下声明它"
    ),
    "each word of {noun:term} '{name}' is text; got {got:got}": "{noun} '{name}' 的每个词都是文字；现在是 {got}",
    "word '{word}' of {noun:term} '{name}' has no letter or digit to match": (
        "{noun} '{name}' 里的词 '{word}' 没有可以匹配的字母或数字"
    ),
    "a moderation playbook (has, words, flood) runs before the others and consumes the message; "
    "put this trigger in another playbook": (
        "管理剧本（has、words、flood）在其他剧本之前运行并截下消息；请把这个触发条件放到另一个剧本里"
    ),
    # -- the set of files
    "{noun:term} '{name}' is declared only in {path}, which has errors; fix it first": (
        "{noun} '{name}' 只在 {path} 里声明，而那个文件有错误：先把它改好"
    ),
    "the playbooks folder does not exist (moved or deleted?)": "剧本文件夹不存在（被移走或删除了？）",
    "duplicate id '{id}' (also in {where})": "ID '{id}' 重复了（{where} 里也有）",
    "duplicate {noun:term} '{id}' (also in {where})": "{noun} '{id}' 重复了（{where} 里也有）",
    # -- template variables (bot/playbook/templates.py)
    "unknown template variable '{name}'{hint:msg}": "未知的模板变量 '{name}'{hint}",
    "'{name}' is not available here: {why:msg}": "这里用不了 '{name}'：{why}",
    "'{triggers}' gives a run only {names:list}": "'{triggers}' 触发的运行只有 {names}",
    "this playbook has no trigger that gives it": "这个剧本没有能提供它的触发条件",
    # -- warnings (bot/playbook/lint.py)
    "warning: {message:msg}": "警告：{message}",
    "'rooms' names '{room}', which is not a group in config.yaml{hint:msg}: this playbook never runs there": (
        "'rooms' 里的 '{room}' 不是 config.yaml 里的群{hint}：这个剧本在那里不会运行"
    ),
    "a member who sends '{text}' starts this playbook and '{other}' ({where}) too: {outcome:msg}": (
        "成员发送 '{text}' 时，这个剧本和 '{other}'（{where}）都会启动：{outcome}"
    ),
    "a message containing '{word}' starts this playbook and '{other}' ({where}) too: {outcome:msg}": (
        "消息里含有 '{word}' 时，这个剧本和 '{other}'（{where}）都会启动：{outcome}"
    ),
    "'/{name}' starts this playbook and '{other}' ({where}) too: {outcome:msg}": (
        "'/{name}' 会同时启动这个剧本和 '{other}'（{where}）：{outcome}"
    ),
    "both run, '{first}' first": "两个都运行，先运行 '{first}'",
    "only '{first}' runs (its 'stop: {{all: true}}' ends the others)": (
        "只有 '{first}' 运行（它的 'stop: {{all: true}}' 结束了其他剧本）"
    ),
    "this text shows coupon.{field}, which is empty when the 'coupon' on line {line} gives none {why:msg}": (
        "这段文本显示了 coupon.{field}，但第 {line} 行的 'coupon' 没发出券时它是空的{why}"
    ),
    "this text shows coupon.code and coupon.expires, which are empty when the 'coupon' on line {line} gives "
    "none {why:msg}": (
        "这段文本显示了 coupon.code 和 coupon.expires，但第 {line} 行的 'coupon' 没发出券时它们是空的{why}"
    ),
    "(stock gone, per_member reached, batch ended); put it in a 'choose' branch with "
    "'if: [{{expr: \"not coupon.none\"}}]'": (
        "（库存没了、达到 per_member 上限、活动已结束）："
        "把它放进 'choose' 分支，加上 'if: [{{expr: \"not coupon.none\"}}]'"
    ),
}

# Words that fill a {name:term} or {name:got} placeholder.
TERMS = {
    "action": "动作",
    "condition": "条件",
    "trigger": "触发条件",
    "a mapping": "一个映射",
    "a list": "一个列表",
    "nothing": "空值",
    "coupon batch": "券批次",
    "question bank": "题库",
    "reward": "奖品",
    "word list": "词表",
    "member field": "会员字段",
}
