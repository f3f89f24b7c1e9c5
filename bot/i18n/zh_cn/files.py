"""Reading a YAML file (bot/playbook/loader.py), with PyYAML's own words where the loader passes them on."""

MESSAGES = {
    # -- the file itself
    "file is not UTF-8 text: save it with UTF-8 encoding": "文件不是 UTF-8 文本：请用 UTF-8 编码保存",
    "cannot read file: {why:word}": "读不了文件：{why}",
    "the file is {size} MB; a playbook may be at most {limit} MB: split it into several files": (
        "文件有 {size} MB；一个剧本最多 {limit} MB：请拆成几个文件"
    ),
    "the file is larger than {size} MB; a playbook may be at most {limit} MB: split it into several files": (
        "文件超过 {size} MB；一个剧本最多 {limit} MB：请拆成几个文件"
    ),
    "the file contains an invisible control character (U+{code}) that YAML does not allow; delete it": (
        "文件里有 YAML 不允许的不可见控制字符（U+{code}）：删掉它"
    ),
    # -- values as the loader builds them
    "a text that starts with '{{{{' must be in quotes, like \"{{{{ member.name }}}} 你好\"": (
        "以 '{{{{' 开头的文本必须加引号，例如 \"{{{{ member.name }}}} 你好\""
    ),
    "an alias ('*') here points back to a list or mapping that contains it": (
        "这里的别名（'*'）指回了包含它自己的列表或映射"
    ),
    "nested more than {depth} levels deep; no playbook needs that": "嵌套超过 {depth} 层；剧本用不到这么深",
    "merge keys '<<' are not supported; write the keys out": "不支持合并键 '<<'：请把键逐个写出来",
    "a key must be a plain word": "键必须是一个普通的词",
    "empty key": "键是空的",
    "duplicate key '{key}' (already on line {line}); keep one": "键 '{key}' 重复了（第 {line} 行已经有）：只保留一个",
    "cannot read this value ({tag}): remove the '!!' tag or fix the value": (
        "读不了这个值（{tag}）：去掉 '!!' 标签，或改正这个值"
    ),
    "the aliases ('*') here expand to more than {count} values; write it out": (
        "这里的别名（'*'）展开后超过 {count} 个值：请直接写出来"
    ),
    # -- syntax, in the loader's words
    "YAML syntax error: {what:msg}": "YAML 语法错误：{what}",
    "YAML error: {what:msg}": "YAML 错误：{what}",
    "a tab character: indent with spaces only": "有制表符（Tab）：缩进只能用空格",
    "a text that starts with '{char}' must be in quotes": "以 '{char}' 开头的文本必须加引号",
    "this quoted text is never closed: add the closing quote": "这段带引号的文本没有结束：补上右引号",
    "'\\{char}' is not an escape inside double quotes: use single quotes for texts with backslashes, "
    "like regex: '^\\d+$'": "双引号里的 '\\{char}' 不是转义字符：含反斜杠的文本请用单引号，例如 regex: '^\\d+$'",
    "unexpected text after a quoted or bracketed value: put the whole text in quotes": (
        "引号或括号后面还有多余的文字：把整段文本放进引号里"
    ),
    "wrong indentation: this line does not line up with the lines above it": "缩进不对：这一行和上面的行没有对齐",
    "this line needs a ':' after its key (like 'key: value'), or is indented wrongly": (
        "这一行的键后面要有 ':'（例如 'key: value'），或者是缩进不对"
    ),
    "unexpected ': ' here: put a text containing ': ' in quotes, or fix the indentation": (
        "这里不该有 ': '：含 ': ' 的文本请加引号，或者检查缩进"
    ),
    "the file ends too early: a '[', '{{' or quote is not closed": "文件提前结束了：有 '['、'{{' 或引号没有闭合",
    "the {what:term} '{opener}' on line {line} is not closed with '{closer}' (or a ',' is missing between its items)": (
        "第 {line} 行的{what} '{opener}' 没有用 '{closer}' 闭合（或者元素之间少了 ','）"
    ),
    "'*{name}' names no '&{name}' anchor; a text that starts with '*' must be in quotes": (
        "'*{name}' 没有对应的锚点 '&{name}'；以 '*' 开头的文本必须加引号"
    ),
    "a second document starts here: one playbook per file": "这里开始了第二个文档：一个文件只写一个剧本",
    "{problem:msg} ({context:msg} on line {line})": "{problem}（{context}，第 {line} 行）",
    "second occurrence (found duplicate anchor '{anchor}'; first occurrence on line {line})": (
        "锚点 '&{anchor}' 重复了（第一次在第 {line} 行）"
    ),
    # -- PyYAML's parser and scanner, where the loader has no plainer words
    "mapping keys are not allowed here": "这里不能写映射的键",
    "sequence entries are not allowed here": "这里不能写列表项（'- '）",
    "expected alphabetic or numeric character, but found '{char}'": "这里应该是字母或数字，却是 '{char}'",
    "expected a digit or '.', but found '{char}'": "这里应该是数字或 '.'，却是 '{char}'",
    "expected a digit or ' ', but found '{char}'": "这里应该是数字或空格，却是 '{char}'",
    "expected a digit, but found '{char}'": "这里应该是数字，却是 '{char}'",
    "expected ' ', but found '{char}'": "这里应该是空格，却是 '{char}'",
    "expected '>', but found '{char}'": "这里应该是 '>'，却是 '{char}'",
    "expected '!', but found '{char}'": "这里应该是 '!'，却是 '{char}'",
    "expected URI, but found '{char}'": "这里应该是 URI，却是 '{char}'",
    "expected URI escape sequence of 2 hexadecimal numbers, but found '{char}'": (
        "这里应该是两位十六进制数的 URI 转义，却是 '{char}'"
    ),
    "expected a comment or a line break, but found '{char}'": "这里应该是注释或换行，却是 '{char}'",
    "expected indentation indicator in the range 1-9, but found 0": "缩进指示符应在 1-9 之间，却是 0",
    "expected chomping or indentation indicators, but found '{char}'": "这里应该是 '+'、'-' 或缩进数字，却是 '{char}'",
    "expected escape sequence of {count} hexadecimal numbers, but found '{char}'": (
        "这里应该是 {count} 位十六进制数的转义，却是 '{char}'"
    ),
    "found unexpected end of stream": "文件意外结束",
    "found unexpected document separator": "遇到了意外的文档分隔符（'---' 或 '...'）",
    "expected '<document start>', but found '{token}'": "这里应该开始一个文档，却遇到了 '{token}'",
    "found duplicate YAML directive": "YAML 指令重复了",
    "found incompatible YAML document (version 1.* is required)": "YAML 文档版本不兼容（需要 1.* 版）",
    "found duplicate tag handle '{handle}'": "标签前缀 '{handle}' 重复了",
    "found undefined tag handle '{handle}'": "标签前缀 '{handle}' 没有定义",
    "expected the node content, but found '{token}'": "这里应该有内容，却遇到了 '{token}'",
    "expected ',' or ']', but got '{token}'": "这里应该是 ',' 或 ']'，却遇到了 '{token}'",
    "expected ',' or '}}', but got '{token}'": "这里应该是 ',' 或 '}}'，却遇到了 '{token}'",
    "expected <block end>, but found '{token}'": "这里应该结束这一块，却遇到了 '{token}'",
    "found character '{char}' that cannot start any token": "'{char}' 不能出现在这里",
    "could not find expected ':'": "找不到应有的 ':'",
    "mapping values are not allowed here": "这里不能写映射的值",
    "found unknown escape character '{char}'": "未知的转义字符 '{char}'",
    "but found another document": "又遇到了一个文档",
    # where PyYAML was when it stopped
    "while scanning for the next token": "查找下一个记号时",
    "while scanning a simple key": "扫描简单键时",
    "while scanning a directive": "扫描指令时",
    "while scanning an alias": "扫描别名时",
    "while scanning an anchor": "扫描锚点时",
    "while parsing a tag": "解析标签时",
    "while scanning a tag": "扫描标签时",
    "while parsing a directive": "解析指令时",
    "while scanning a block scalar": "扫描块文本时",
    "while scanning a double-quoted scalar": "扫描双引号文本时",
    "while scanning a quoted scalar": "扫描引号文本时",
    "while parsing a node": "解析节点时",
    "while parsing a block node": "解析块节点时",
    "while parsing a flow node": "解析流式节点时",
    "while parsing a block collection": "解析块集合时",
    "while parsing a block mapping": "解析块映射时",
    "while parsing a flow sequence": "解析流式列表时",
    "while parsing a flow mapping": "解析流式映射时",
    "expected a single document in the stream": "文件里应该只有一个文档",
}

# Words that fill a {name:term} or {name:got} placeholder.
TERMS = {
    "Permission denied": "没有权限",
    "No such file or directory": "文件不存在",
    "Is a directory": "这是一个文件夹",
    "Not a directory": "路径中有一段不是文件夹",
    "Input/output error": "读写出错",
    "Too many levels of symbolic links": "符号链接层数太多",
    "File name too long": "文件名太长",
    "Resource temporarily unavailable": "资源暂时不可用",
    "list": "列表",
    "mapping": "映射",
}
