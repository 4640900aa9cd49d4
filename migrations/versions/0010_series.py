"""recurring newsletter series and their editions; where a feed source was redirected

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-24 21:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feed_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redirected_to', sa.String(length=2000), nullable=True))


def downgrade():
    with op.batch_alter_table('feed_sources', schema=None) as batch_op:
        batch_op.drop_column('redirected_to')
