"""function accuracy: evaluations of extractions, score runs, and calls made to test a function

Revision ID: 0020
Revises: 0019
Create Date: 2027-04-05 09:00:00

``evaluations`` holds one evaluation of an event per evaluation version (``POST /v3/eval``);
``score_runs`` the (input, expected) pairs of ``POST /v3/eval/score`` with the calls that answer
them; ``calls.origin`` says why Quarry itself made a call (``regression``: a replay of event
``origin_id``'s input against another version, ``score``: a pair of score run ``origin_id``);
``calls.call_metadata`` the JSON object a v3 call was submitted with (its outputs carry it as
``_metadata``).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from quarry.storage.base import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("calls", sa.Column("origin", sa.String(16), nullable=True))
    op.add_column("calls", sa.Column("origin_id", sa.String(64), nullable=True))
    op.add_column("calls", sa.Column("call_metadata", JSON, nullable=True))
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "environment_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("evaluation_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", "evaluation_version", name="uq_evaluations_event_version"),
    )
    op.create_table(
        "score_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "environment_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("function_id", sa.String(64), nullable=False),
        sa.Column("function_name", sa.String(128), nullable=False),
        sa.Column("function_version_num", sa.Integer(), nullable=False),
        sa.Column("pairs", JSON, nullable=False),
        sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("score_runs")
    op.drop_table("evaluations")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("call_metadata")
        batch_op.drop_column("origin_id")
        batch_op.drop_column("origin")
