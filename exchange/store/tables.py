"""Table definitions.

The hub's fixed tables live on ``metadata`` and are created by Alembic migrations. Observation
tables are derived from each DSD when it is registered (``data_table``), so a DSD pushed by an
administrator is stored without a code change; ``dsd_table`` records which table serves which DSD.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from exchange.catalog.schema import DsdSchema

NAMING = {
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

submission = Table(
    "submission", metadata,
    Column("id", String(36), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("provider", String(64), nullable=False),  # the reporting data provider (or "ADMIN")
    Column("token_id", Integer, nullable=True),
    Column("dataflows", Text, nullable=False, default=""),  # space-separated AGENCY:ID(VERSION)
    Column("media_type", String(200), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size_bytes", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # accepted | rejected
    Column("http_status", Integer, nullable=False),
    Column("observations", Integer, nullable=False, default=0),
    Column("issue_count", Integer, nullable=False, default=0),
    Column("result", Text, nullable=False),  # the JSON answer given to the client
)

submission_issue = Table(
    "submission_issue", metadata,
    Column("submission_id", String(36), ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("code", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("component", String(100)),
    Column("value", Text),
    Column("series_key", Text),
    Column("period", String(40)),
    Column("location", Text),
    Column("message", Text, nullable=False),
    Column("fix", Text, nullable=False),
)
Index("ix_submission_issue_code", submission_issue.c.submission_id, submission_issue.c.code)

api_token = Table(
    "api_token", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("provider", String(64), nullable=True),  # NULL for administrators
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

structure_document = Table(
    "structure_document", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(300), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("submitted_by", Integer, nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)

dsd_table = Table(
    "dsd_table", metadata,
    Column("dsd", String(300), primary_key=True),  # AGENCY:ID(VERSION)
    Column("table_name", String(63), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

event = Table(
    "event", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),  # feed cursor
    Column("uid", String(40), nullable=False, unique=True),  # stable public id ("evt_" + 32 hex)
    Column("type", String(64), nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("providers", Text, nullable=False, default=""),  # " KAZ RUS ": the data providers it concerns
    Column("dataflow", String(300), nullable=True),  # AGENCY:ID(VERSION) when it concerns one dataflow
    Column("subject", String(300), nullable=True),  # what it is about: a case id, a submission id, a structure
    Column("payload", Text, nullable=False),  # JSON, with links
    Column("txid", BigInteger, nullable=True),  # PostgreSQL: the writing transaction (feed visibility in commit order)
)

#: Reconciliation (issue #10). A policy row is one version of a dataflow's policy: versions are only ever added.
recon_policy = Table(
    "recon_policy", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataflow", String(300), nullable=False),  # AGENCY:ID(VERSION) of the flow DSD
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("settings", Text, nullable=False),  # JSON: exchange.reconcile.policy.Policy
    UniqueConstraint("dataflow", "version", name="uq_recon_policy_version"),
)

#: A case: one pair (origin -> destination), dataflow, breakdown and basis. States in exchange.reconcile.lifecycle.
recon_case = Table(
    "recon_case", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataflow", String(300), nullable=False),
    Column("origin", String(64), nullable=False),  # reports E (emigration to destination)
    Column("destination", String(64), nullable=False),  # reports I (immigration from origin)
    Column("breakdown", String(200), nullable=False),  # FREQ.MIGRANT_TYPE.SEX.AGE.UNIT_MEASURE
    Column("basis", String(20), nullable=False),  # residence | citizenship | birth
    Column("state", String(20), nullable=False),
    Column("kind", String(20), nullable=False),  # automatic | requested
    Column("policy_version", Integer, nullable=False),
    Column("opened_by_submission", String(36)),
    Column("requested_by", String(64)),
    Column("resolved_by_submission", String(36)),
    Column("reason", String(40)),  # the latest explanation's reason code
    Column("close_agreed", String(200), nullable=False, default=""),  # " KAZ RUS ": partners that agreed to close
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
Index("ix_recon_case_pair", recon_case.c.dataflow, recon_case.c.origin, recon_case.c.destination)
_CASE_OPEN = recon_case.c.state.notin_(["resolved", "closed"])
#: One open case per (dataflow, pair, breakdown, basis): concurrency can never make two.
Index("uq_recon_case_open", recon_case.c.dataflow, recon_case.c.origin, recon_case.c.destination,
      recon_case.c.breakdown, recon_case.c.basis, unique=True, sqlite_where=_CASE_OPEN, postgresql_where=_CASE_OPEN)

recon_period = Table(
    "recon_period", metadata,
    Column("case_id", Integer, ForeignKey("recon_case.id"), primary_key=True),
    Column("period", String(40), primary_key=True),
    Column("state", String(20), nullable=False),  # out | within | explained
    Column("rule", String(20), nullable=False),  # flag | missing_side | requested
    Column("e_open", Float), Column("i_open", Float), Column("flag_open", String(16)),
    Column("e_now", Float), Column("i_now", Float), Column("flag_now", String(16)), Column("ln_ratio_now", Float),
    Column("e_dur_crit", String(40)), Column("i_dur_crit", String(40)),
    Column("e_source_type", String(40)), Column("i_source_type", String(40)),
    Column("e_submission", String(36)), Column("i_submission", String(36)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Append-only timeline: who did what to a case, when, with the values before and after.
recon_timeline = Table(
    "recon_timeline", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recon_case.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),  # a provider, "ADMIN", or "hub" (automatic)
    Column("action", String(40), nullable=False),
    Column("submission", String(36)),
    Column("reason", String(40)),
    Column("text", Text),
    Column("before", Text),  # JSON
    Column("after", Text),  # JSON
)


subscription = Table(
    "subscription", metadata,
    Column("id", String(40), primary_key=True),  # "sub_" + 32 hex
    Column("owner", String(64), nullable=True),  # the data provider it belongs to; NULL: an administrator's
    Column("token_id", Integer, nullable=True),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),  # " submission.accepted case.opened ": the types it receives
    Column("dataflow", String(300), nullable=True),  # filter: only events of this dataflow
    Column("partner", String(64), nullable=True),  # filter: only events that concern this provider too
    Column("secret", Text, nullable=False),  # "whsec_..." (Standard Webhooks); shown once, kept to sign
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False, default=0),  # consecutive failed attempts since the last success
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),  # removed by its owner; the log is kept
)

delivery = Table(
    "delivery", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("event.id"), nullable=False),
    Column("channel", String(8), nullable=False),  # webhook | email
    Column("subscription_id", String(40), ForeignKey("subscription.id"), nullable=True),  # webhook
    Column("provider", String(64), nullable=True),  # email: the provider whose contact address receives it
    Column("state", String(12), nullable=False),  # pending | delivered | failed | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),  # also the claim: moved on while sending
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status", Integer, nullable=True),  # HTTP status (webhook) or SMTP reply code
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
)
Index("ix_delivery_due", delivery.c.state, delivery.c.next_attempt_at)
Index("uq_delivery_subscription_event", delivery.c.subscription_id, delivery.c.event_id, unique=True)
Index("ix_delivery_event", delivery.c.event_id)

provider_contact = Table(
    "provider_contact", metadata,
    Column("provider", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

def table_name(schema: DsdSchema) -> str:
    raw = f"obs_{schema.agency}_{schema.id}_{schema.version}".lower()
    return re.sub(r"[^a-z0-9_]", "_", raw)[:63]


def data_table(schema: DsdSchema, md: MetaData | None = None) -> Table:
    """The observation table of a DSD: one row per observation version (history is never overwritten).

    A row is current while ``_superseded_at`` is NULL; ``_deleted`` rows are tombstones recording a Delete,
    so ``updatedAfter`` can report deletions and ``asOf`` can rebuild any past state. At most one version of
    an observation (its series key and TIME_PERIOD, SDMX-IM "observation key") is current: a partial unique
    index enforces it, so no concurrency bug can ever serve an observation twice.
    """
    name = table_name(schema)
    md = md if md is not None else MetaData()
    if name in md.tables:
        return md.tables[name]
    key_cols = [Column(d.lower(), String(100), nullable=False) for d in schema.dimensions]
    if schema.time_dimension:
        key_cols.append(Column(schema.time_dimension.lower(), String(40), nullable=False))
    table = Table(
        name, md,
        Column("_id", Integer, primary_key=True, autoincrement=True),
        *key_cols,
        Column("_period_start", String(10)),
        Column("_period_end", String(10)),
        _value_column(schema, schema.measure),
        *[_value_column(schema, a) for a in schema.attributes],
        Column("_submission", String(36), nullable=False, index=True),
        Column("_provider", String(64), nullable=False),
        Column("_recorded_at", DateTime(timezone=True), nullable=False),
        Column("_superseded_at", DateTime(timezone=True)),
        Column("_superseded_by", String(36)),
        Column("_replaces", Integer),  # the version this row supersedes (NULL for a first version)
        Column("_deleted", Boolean, nullable=False, default=False),
    )
    Index(f"ix_{name}_key"[:63], *[c for c in key_cols], table.c._superseded_at)
    Index(f"ix_{name}_rec"[:63], table.c._recorded_at)
    current_version_index(table, key_cols)
    return table


def current_index_name(table_name: str) -> str:
    """``uq_<table>_current``, shortened with a hash when over PostgreSQL's 63 characters (names stay distinct)."""
    name = f"uq_{table_name}_current"
    if len(name) <= 63:
        return name
    return f"uq_{table_name[:40]}_{hashlib.sha256(table_name.encode()).hexdigest()[:10]}_current"


def current_version_index(table: Table, key_cols: list[Column]) -> Index:
    """The guarantee "one current version per observation key": unique over the key, only where the row is current."""
    current = table.c._superseded_at.is_(None)
    return Index(current_index_name(table.name), *key_cols, unique=True, sqlite_where=current,
                 postgresql_where=current)


def _value_column(schema: DsdSchema, component: str) -> Column:
    rule = schema.components[component]
    if rule.numeric and rule.codes is None:
        return Column(component.lower(), Float)
    return Column(component.lower(), Text)


def stage_table(schema: DsdSchema, md: MetaData) -> Table:
    """A temporary table holding one message's validated rows until the whole message is checked."""
    return Table(
        "stage_" + table_name(schema)[4:], md,
        Column("seq", Integer, primary_key=True),
        Column("segment", Integer, nullable=False),
        Column("location", Text),
        *[Column(d.lower(), String(100)) for d in schema.key_components],
        Column("_period_start", String(10)),
        Column("_period_end", String(10)),
        _value_column(schema, schema.measure),
        *[_value_column(schema, a) for a in schema.attributes],
        prefixes=["TEMPORARY"],
    )


def plan_table(md: MetaData) -> Table:
    """A temporary table of one write step's plan: the staged row (``seq``) and the version it replaces."""
    return Table("write_plan", md, Column("seq", Integer), Column("old_id", Integer), prefixes=["TEMPORARY"])
