"""Details that come from libraries inside our messages: Jinja (templates), `re` (regex triggers and scenario
filters) and APScheduler (cron lines). Each is a finite set of texts; these are the ones an operator can meet."""

MESSAGES = {
    # -- Jinja, as bot/playbook/templates.py words it or passes it on
    "'{{{{' is not closed with '}}}}'": "'{{{{' 没有用 '}}}}' 闭合",
    "'{{%' is not closed with '%}}'": "'{{%' 没有用 '%}}' 闭合",
    "'{{#' is not closed with '#}}'": "'{{#' 没有用 '#}}' 闭合",
    "unexpected '}}': close '{{{{' with '}}}}'": "多了一个 '}}'：'{{{{' 要用 '}}}}' 闭合",
    "more text after a complete expression (compare with '==', combine with 'and' / 'or')": (
        "完整的表达式后面还有多余的内容（比较用 '=='，组合用 'and' / 'or'）"
    ),
    "it ends too early (something is missing at its end)": "结束得太早（末尾缺了东西）",
    "no {kind:term} named '{name}'{hint:msg}": "没有名为 '{name}' 的{kind}{hint}",
    "unexpected '{token}'": "这里不该有 '{token}'",
    "unexpected the end": "模板意外结束",
    "unexpected '{token}', expected '{expected}'": "这里不该有 '{token}'，应该是 '{expected}'",
    "unexpected char '{char}' at {position}": "第 {position} 个字符 '{char}' 不能出现在这里",
    'unexpected char "{char}" at {position}': '第 {position} 个字符 "{char}" 不能出现在这里',  # a quote: repr uses "
    "expected token '{expected}', got '{token}'": "这里应该是 '{expected}'，却是 '{token}'",
    "unexpected end of template, expected '{expected}'.": "模板提前结束了，还缺 '{expected}'",
    "tag name expected": "这里应该是标签名",
    "Encountered unknown tag '{tag}'.{more:msg}": "遇到了不认识的标签 '{tag}'。{more}",
    "Unexpected end of template.{more:msg}": "模板提前结束了。{more}",
    " Jinja was looking for the following tags: {tags:list}.{more:msg}": "Jinja 在等这些标签：{tags}。{more}",
    " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for {tags:list}."
    "{more:msg}": "可能是嵌套写错了：这个标签会用到，但现在应该先写 {tags}。{more}",
    " The innermost block that needs to be closed is '{block}'.": "最内层需要闭合的块是 '{block}'。",
    "expected name or number": "这里应该是名字或数字",
    "expected subscript expression": "这里应该是下标表达式",
    "invalid syntax for function call expression": "函数调用的写法不对",
    "Expected an expression, got '{token}'": "这里应该是表达式，却是 '{token}'",
    "You cannot chain multiple tests with is": "不能用 is 连续接多个测试",
    "can't assign to '{target}'": "不能给 '{target}' 赋值",
    "expected call": "这里应该是函数调用",
    "Invalid character in identifier": "名字里有非法字符",
    "Required blocks can only contain comments or whitespace": "必需的块里只能有注释或空白",
    "non-default argument follows default argument": "没有默认值的参数不能写在有默认值的参数后面",
    "names starting with an underline can not be imported": "不能导入以下划线开头的名字",
    "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, "
    "use an underscore instead.": ("块的名字必须是合法的 Python 标识符，不能有连字符，请改用下划线"),
    # -- re: "<detail> at position N", or with line and column for a pattern of several lines
    "{detail:msg} at position {position}": "{detail}（位置 {position}）",
    "{detail:msg} at position {position} (line {line}, column {column})": (
        "{detail}（位置 {position}，第 {line} 行第 {column} 列）"
    ),
    "missing ), unterminated subpattern": "缺少 ')'：子模式没有结束",
    "unbalanced parenthesis": "括号不配对",
    "nothing to repeat": "前面没有可以重复的内容",
    "multiple repeat": "重复符号连用了",
    "unterminated character set": "字符集 '[' 没有结束",
    "bad escape {escape}": "错误的转义 {escape}",
    "bad escape (end of pattern)": "末尾的转义不完整",
    "incomplete escape {escape}": "不完整的转义 {escape}",
    "bad character range {span}": "错误的字符范围 {span}",
    "missing group name": "缺少分组名",
    "missing {char}, unterminated name": "缺少 '{char}'：名字没有结束",
    "bad character in group name '{name}'": "分组名 '{name}' 里有非法字符",
    "unknown group name '{name}'": "未知的分组名 '{name}'",
    "redefinition of group name '{name}' as group {number}; was group {before}": (
        "分组名 '{name}' 重复定义了（第 {number} 组，之前是第 {before} 组）"
    ),
    "unknown extension ?{rest}": "未知的扩展写法 ?{rest}",
    "missing {what}": "缺少 {what}",
    "missing -, : or )": "缺少 '-'、':' 或 ')'",
    "missing flag": "缺少标志",
    "unknown flag": "未知的标志",
    "bad inline flags: cannot turn off global flag": "内联标志有误：不能关闭全局标志",
    "bad inline flags: cannot turn on global flag": "内联标志有误：不能打开全局标志",
    "bad inline flags: flag turned on and off": "内联标志有误：同一个标志又开又关",
    "cannot refer to an open group": "不能引用还没结束的分组",
    "cannot refer to group defined in the same lookbehind subpattern": "不能引用同一个后顾子模式里定义的分组",
    "look-behind requires fixed-width pattern": "后顾断言需要固定宽度的模式",
    "global flags not at the start of the expression": "全局标志必须写在表达式开头",
    "invalid group reference {number}": "无效的分组引用 {number}",
    "bad group number": "错误的分组编号",
    "unexpected end of pattern": "模式意外结束",
    "min repeat greater than max repeat": "重复次数的最小值大于最大值",
    "the repetition number is too large": "重复次数太大",
    "too many groups": "分组太多",
    "octal escape value {value} outside of range 0-0o377": "八进制转义 {value} 超出范围 0-0o377",
    "conditional backref with more than two branches": "条件引用的分支超过两个",
    "undefined character name '{name}'": "未定义的字符名 '{name}'",
    # -- APScheduler's cron fields
    "Error validating expression '{expression}': {detail:msg}": "表达式 '{expression}' 有误：{detail}",
    "the last value ({value}) is higher than the maximum value ({limit})": (
        "最后一个值（{value}）超过了最大值（{limit}）"
    ),
    "the first value ({value}) is lower than the minimum value ({limit})": "第一个值（{value}）小于最小值（{limit}）",
    "the step value ({step}) is higher than the total range of the expression ({span})": (
        "步长（{step}）超过了表达式的总范围（{span}）"
    ),
    "The minimum value in a range must not be higher than the maximum": "范围的最小值不能大于最大值",
    "Increment must be higher than 0": "步长必须大于 0",
    'Unrecognized expression "{expression}" for field "{field}"': '字段 "{field}" 里的 "{expression}" 看不懂',
    'Invalid month name "{name}"': '无效的月份名 "{name}"',
    'Invalid weekday name "{name}"': '无效的星期名 "{name}"',
    'Invalid weekday position "{name}"': '无效的星期位置 "{name}"',
}

# Words that fill a {name:term} or {name:got} placeholder.
TERMS = {
    "filter": "过滤器",
    "test": "测试",
}
