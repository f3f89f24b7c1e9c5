"""Member tags: `tag`, `untag`, the `tags` condition, `member.tags`, and staff's /标签 and /去标签."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema, model_validator
from sqlalchemy import ColumnElement, Index, and_, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.commands import CommandContext, UsageError
from bot.conditions import as_list, as_text
from bot.context import FieldContext, RunContext
from bot.events import MemberRef
from bot.playbook.types import WORD_SCHEMA, Params, one_or_list
from bot.registry import action, condition, member_field, staff_command
from bot.staff_actions import Actor, Outcome, staff_action
from bot.store import dialect


class MemberTag(SQLModel, table=True):
    """A member's tag; the key makes a tag given twice one row."""

    __tablename__ = "member_tags"
    __table_args__ = (Index("ix_member_tags_tag", "tag"),)
    member_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)
    at: datetime


_tags = MemberTag.__table__
MAX_TAG = 30  # characters of a tag name staff give with /标签
Names = Annotated[list[str], BeforeValidator(as_list), one_or_list(WORD_SCHEMA)]


async def tags_of(conn: AsyncConnection, member_id: str) -> set[str]:
    rows = await conn.execute(select(_tags.c.tag).where(_tags.c.member_id == member_id))
    return {r.tag for r in rows}


@member_field("tags")
async def member_tags(ctx: FieldContext, member_id: str) -> list[str]:
    return sorted(await tags_of(ctx.conn, member_id))


class TagParams(Params):
    name: Annotated[str, BeforeValidator(as_text), WithJsonSchema(WORD_SCHEMA)]
    to: str = "member"


@action("tag", schema=TagParams, primary="name", member_directed=True)
async def tag(ctx: RunContext, p: TagParams) -> None:
    """Give the member a tag (no-op if they have it)."""
    member = ctx.target(p.to)
    row = {"member_id": member.id, "tag": p.name, "at": ctx.now()}
    await ctx.conn.execute(dialect.insert_ignore(ctx.conn, _tags), row)
    ctx.changed(member.id)


@action("untag", schema=TagParams, primary="name", member_directed=True)
async def untag(ctx: RunContext, p: TagParams) -> None:
    """Remove a tag from the member."""
    member = ctx.target(p.to)
    await ctx.conn.execute(delete(_tags).where(_tags.c.member_id == member.id, _tags.c.tag == p.name))
    ctx.changed(member.id)


class TagsCondition(Params):
    any: Names | None = None
    all: Names | None = None
    none: Names | None = None

    @model_validator(mode="after")
    def _some(self) -> TagsCondition:
        if self.any is None and self.all is None and self.none is None:
            raise ValueError("'tags' needs any, all or none, like {any: [VIP]}")
        return self


@condition("tags", schema=TagsCondition, primary="any")
async def has_tags(ctx: RunContext, p: TagsCondition) -> bool:
    """The sender's tags: any of, all of, none of."""
    if ctx.member is None:
        return False
    have = await tags_of(ctx.conn, ctx.member.id)
    return (
        (p.any is None or bool(have & set(p.any)))
        and (p.all is None or set(p.all) <= have)
        and (p.none is None or not have & set(p.none))
    )


def tags_clause(member_id: ColumnElement[str], p: TagsCondition) -> ColumnElement[bool]:
    """The same any/all/none rule as SQL over a member id column, for segments (one query, no Python loop)."""

    def having(names: list[str]) -> ColumnElement[bool]:
        return exists().where(_tags.c.member_id == member_id, _tags.c.tag.in_(names))

    parts: list[ColumnElement[bool]] = []
    if p.any is not None:
        parts.append(having(p.any))
    if p.all is not None:
        parts.extend(exists().where(_tags.c.member_id == member_id, _tags.c.tag == name) for name in p.all)
    if p.none is not None:
        parts.append(~having(p.none))
    return and_(*parts)


def _tag_name(ctx: CommandContext) -> str:
    if not ctx.args:
        raise UsageError("请写出标签名")
    return " ".join(ctx.args)


def _checked(name: str) -> str:
    name = name.strip()
    if not name:
        raise UsageError("请写出标签名")
    if len(name) > MAX_TAG:
        raise UsageError(f"标签名最多 {MAX_TAG} 字（现在 {len(name)} 字）")
    return name


@staff_action("标签")
async def give_tag(conn: AsyncConnection, actor: Actor, member: MemberRef, name: str) -> Outcome:
    """/标签 and the console's 标签."""
    name = _checked(name)
    await conn.execute(dialect.insert_ignore(conn, _tags), {"member_id": member.id, "tag": name, "at": actor.now})
    return Outcome("ok", f"已给 {member.name} 打上标签「{name}」", member.id)


@staff_action("去标签")
async def take_tag(conn: AsyncConnection, actor: Actor, member: MemberRef, name: str) -> Outcome:
    """/去标签 and the console's 去标签."""
    name = _checked(name)
    gone = await conn.execute(delete(_tags).where(_tags.c.member_id == member.id, _tags.c.tag == name))
    if not gone.rowcount:
        return Outcome("absent", f"{member.name} 没有标签「{name}」", member.id)
    return Outcome("ok", f"已去掉 {member.name} 的标签「{name}」", member.id)


@staff_command("标签", aliases=("tag",), role="staff", usage="/标签 @某人 标签名")
async def tag_command(ctx: CommandContext) -> str:
    """给成员打标签"""
    member = await ctx.target()
    done = await give_tag(ctx.conn, Actor.of(ctx), member, _tag_name(ctx))
    ctx.result = done.result
    return done.text


@staff_command("去标签", aliases=("untag",), role="staff", usage="/去标签 @某人 标签名")
async def untag_command(ctx: CommandContext) -> str:
    """去掉成员的标签"""
    member = await ctx.target()
    done = await take_tag(ctx.conn, Actor.of(ctx), member, _tag_name(ctx))
    ctx.result = done.result
    return done.text
