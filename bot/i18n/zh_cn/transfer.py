"""What `qunguan migrate`, `qunguan backup` and `qunguan restore` say when they refuse or fail (bot/transfer/).
A driver's or a tool's own words ({detail}) stay as they were said."""

MESSAGES = {
    # -- where a refusal happened, and that nothing changed
    "{reason:msg}; nothing was written to {target}": "{reason}；目标 {target} 没有写入任何内容",
    "{where:msg}: {detail}; nothing was written to {target}": "{where}出错：{detail}；目标 {target} 没有写入任何内容",
    "reading {database}": "读取 {database} 时",
    "writing {database}": "写入 {database} 时",
    "copying table {table}: {detail}": "复制表 {table} 时出错：{detail}",
    "the copy in {target} did not match its source and was rolled back": "{target} 里的副本与来源不一致，已全部撤销",
    # -- the databases named
    "not a database URL: {url}": "不是数据库地址：{url}",
    "unsupported database URL {url}: use a SQLite file path or postgresql://user@host/database": (
        "不支持的数据库地址 {url}：请写 SQLite 文件路径，或 `postgresql://用户@主机/数据库`"
    ),
    "no database at {path}": "{path} 没有数据库",
    "cannot open database {database}: {detail}": "打不开数据库 {database}：{detail}",
    "the source and the target are the same database": "来源和目标是同一个数据库",
    "the database {database} is in memory: there is nothing to back up or restore": (
        "数据库 {database} 在内存里：没有可以备份或恢复的内容"
    ),
    # -- schema versions
    "the source is not a Qunguan database (it has no schema version)": "来源不是群管的数据库（没有结构版本）",
    "the source {path}: {reason:msg}": "来源 {path}：{reason}",
    "the source is at schema version {found}, newer than this Qunguan ({ours}): upgrade Qunguan first": (
        "来源的结构版本是 {found}，比当前群管（{ours}）新：请先升级群管"
    ),
    "the source is at schema version {found}, older than this Qunguan ({ours}): open it once with this Qunguan "
    "(e.g. `qunguan audit`) to upgrade it, then migrate": (
        "来源的结构版本是 {found}，比当前群管（{ours}）旧：先用当前群管打开一次（例如 `qunguan audit`）让它升级，再迁移"
    ),
    "the target: {reason:msg}": "目标：{reason}",
    "the database is at schema version {found}, newer than this Qunguan ({ours}); upgrade Qunguan or use a backup": (
        "数据库的结构版本是 {found}，比当前群管（{ours}）新；请升级群管，或使用备份"
    ),
    "the database has tables but no schema version: is it a Qunguan database?": (
        "数据库里有表但没有结构版本：这是群管的数据库吗？"
    ),
    "the target is not empty: table {table} holds {count} row(s); migrate only into a new, empty database": (
        "目标数据库不是空的：表 {table} 里有 {count} 行；只能迁移到新建的空数据库"
    ),
    # -- backup files
    "{file} already exists: give another file name, or --force to overwrite it": (
        "{file} 已经存在：换一个文件名，或加 `--force` 覆盖它"
    ),
    "no folder {folder} for {name}": "没有文件夹 {folder} 来存放 {name}",
    "no backup file at {file}": "{file} 没有备份文件",
    "{file} is neither a SQLite database nor a pg_dump custom-format file": (
        "{file} 既不是 SQLite 数据库，也不是 `pg_dump` 自定义格式的文件"
    ),
    "{file} is a SQLite backup and the database is PostgreSQL: use `qunguan migrate --from {same} --to "
    "DATABASE_URL` instead": (
        "{file} 是 SQLite 备份，而数据库是 PostgreSQL：请改用 `qunguan migrate --from {same} --to 数据库地址`"
    ),
    "{file} is a PostgreSQL dump: restore it into a PostgreSQL database": (
        "{file} 是 PostgreSQL 的导出文件：请恢复到 PostgreSQL 数据库"
    ),
    "{file} is not a Qunguan database (it has no schema version)": "{file} 不是群管的数据库（没有结构版本）",
    "{file} is at schema version {found}, newer than this Qunguan ({ours})": (
        "{file} 的结构版本是 {found}，比当前群管（{ours}）新"
    ),
    "cannot open {path}: {detail}": "打不开 {path}：{detail}",
    "the copy of {path} failed its integrity check": "{path} 的副本没有通过完整性检查",
    "cannot copy {source} to {target}: {detail}": "无法把 {source} 复制到 {target}：{detail}",
    "cannot write {path}: {detail}": "无法写入 {path}：{detail}",
    # -- restoring over a database
    "{database} is open in another process (a running bot?): stop it first": (
        "{database} 正被另一个进程打开（机器人还在运行？）：请先停止它"
    ),
    "{database} already holds a database: restoring replaces it whole; stop the bot, then add --force": (
        "{database} 里已经有数据库：恢复会整个替换它；请先停止机器人，再加 `--force`"
    ),
    "cannot reach {database}: {detail}": "连不上 {database}：{detail}",
    "{count} other connection(s) are open on {database} (a running bot?): stop them first": (
        "{database} 上还有 {count} 个其他连接（机器人还在运行？）：请先停止它们"
    ),
    "{database} already holds {count} table(s): restore into a new, empty database, or add --force to replace them": (
        "{database} 里已经有 {count} 张表：请恢复到新建的空数据库，或加 `--force` 替换它们"
    ),
    # -- PostgreSQL's tools
    "{tool} not found (Debian: apt-get install postgresql-client)": (
        "找不到 {tool}（Debian：`apt-get install postgresql-client`）"
    ),
    "cannot run {tool}: {detail}": "无法运行 {tool}：{detail}",
    "{tool} failed: {detail}": "{tool} 失败：{detail}",
}
