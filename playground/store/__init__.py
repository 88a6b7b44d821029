"""The store: scenario runs, saved comparisons and arena battles, on SQLite or PostgreSQL.

``PLAYGROUND_DB`` is a SQLite file path (default ``./playground.db``) or a
``postgresql://`` URL; the schema is migrated (Alembic) whenever a store opens.
"""

from playground.store.arena import BattleRecord, BattleWithVote, Choice, VoteRecord
from playground.store.comparisons import MAX_DOCUMENT_BYTES, ComparisonSummary
from playground.store.database import default_db, location
from playground.store.errors import DocumentRefused, StoreError, VoteRefused
from playground.store.runs import StoredRun
from playground.store.store import Store

__all__ = ["MAX_DOCUMENT_BYTES", "BattleRecord", "BattleWithVote", "Choice", "ComparisonSummary",
           "DocumentRefused", "Store", "StoreError", "StoredRun", "VoteRecord", "VoteRefused",
           "default_db", "location"]
