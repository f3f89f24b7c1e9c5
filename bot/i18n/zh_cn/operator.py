"""What the CLI and a reload say around the problems: summaries, the playbooks folder, the reload answer."""

MESSAGES = {
    # -- qunguan check / test / reload / run
    "OK: {count} playbook(s) in {folder}": "OK：{folder} 里有 {count} 个剧本",
    "OK: {count} playbook(s) in {folder}, {warnings} warning(s)": "OK：{folder} 里有 {count} 个剧本，{warnings} 条警告",
    "{count} problem(s) in {folder}": "{folder} 里有 {count} 个问题",
    "{count} problem(s) and {warnings} warning(s) in {folder}": "{folder} 里有 {count} 个问题、{warnings} 条警告",
    "{count} problem(s) in {folder}: fix them before testing": "{folder} 里有 {count} 个问题：先改好再测试",
    "{count} problem(s) in {folder}: nothing replayed, since those playbooks would miss the events": (
        "{folder} 里有 {count} 个问题：没有补录，先把剧本改好，不然这些事件会漏掉它们"
    ),
    "not found: {paths}": "找不到：{paths}",
    "no scenario files in {paths}": "{paths} 里没有场景文件",
    "unknown connector '{name}'; available: {names:list}": "未知的连接器 '{name}'；可用的有：{names}",
    "no running bot answered within {seconds} s (is it running, on {database}?); a bot reads the playbooks "
    "when it starts": (
        "{seconds} 秒内没有运行中的机器人回应（它在运行吗？用的是 {database} 吗？）；机器人启动时会读取剧本"
    ),
    "account {account}: {answer:msg}": "账号 {account}：{answer}",
    "no answer within {seconds} s (not running? it loads these versions when it starts)": (
        "{seconds} 秒内没有回应（没在运行？它启动时会加载这些版本）"
    ),
    # -- where the playbooks folder is
    "playbooks folder {folder} ({path}) not found; it comes from {source:msg}": (
        "找不到剧本文件夹 {folder}（{path}），它来自{source}"
    ),
    "{folder} ({path}) is not a folder; it comes from {source:msg}": "{folder}（{path}）不是文件夹，它来自{source}",
    "--playbooks": " --playbooks",
    "the command line": "命令行参数",
    "'playbooks: {value}' in {config}": " {config} 里的 'playbooks: {value}'",
    "the default (there is no config.yaml here)": "默认值（这里没有 config.yaml）",
    "the default ({config} does not set 'playbooks:')": "默认值（{config} 里没有设置 'playbooks:'）",
    "the playbooks folder is given twice ({path} and --playbooks {option}): give it once, like qunguan check {same}": (
        "剧本文件夹给了两次（{path} 和 --playbooks {option}）：只写一个，例如 qunguan check {same}"
    ),
    # -- what a load says (bot/reload.py): `qunguan run` at start-up, `qunguan reload`, /重载
    "loaded: {count} playbook(s) running": "已加载：{count} 个剧本在运行",
    "loaded: {count} playbook(s) running, {warnings} warning(s)": "已加载：{count} 个剧本在运行，{warnings} 条警告",
    "loaded: {count} playbook(s) running, {files} file(s) with errors": (
        "已加载：{count} 个剧本在运行，{files} 个文件有错误"
    ),
    "loaded: {count} playbook(s) running, {files} file(s) with errors, {warnings} warning(s)": (
        "已加载：{count} 个剧本在运行，{files} 个文件有错误，{warnings} 条警告"
    ),
    "reloaded: {count} playbook(s) running": "已重载：{count} 个剧本在运行",
    "reloaded: {count} playbook(s) running, {warnings} warning(s)": "已重载：{count} 个剧本在运行，{warnings} 条警告",
    "reloaded: {count} playbook(s) running, {files} file(s) with errors": (
        "已重载：{count} 个剧本在运行，{files} 个文件有错误"
    ),
    "reloaded: {count} playbook(s) running, {files} file(s) with errors, {warnings} warning(s)": (
        "已重载：{count} 个剧本在运行，{files} 个文件有错误，{warnings} 条警告"
    ),
    "{path}: has errors; its last good version of {when} runs instead": "{path}：有错误，改用 {when} 的旧版本运行",
    "{path}: has errors and no last good version: left out": "{path}：有错误，也没有旧版本，没有运行",
    "{path}: has errors, and its last good version of {when} cannot run either ({why:msg}): left out": (
        "{path}：有错误，{when} 的旧版本也不能运行（{why}），没有运行"
    ),
    "{path}: its last good version declares {noun:term} '{id}' too; the one in {other} is used": (
        "{path}：旧版本也声明了{noun} '{id}'，用的是 {other} 里的"
    ),
    "not reloaded, {count} problem(s); the previous playbooks keep running": (
        "没有重载，有 {count} 个问题；原来的剧本照常运行"
    ),
}
