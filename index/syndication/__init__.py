"""Syndication: copies of one wire story under several outlets, found by MinHash and key facts."""

from index.syndication.near_duplicates import (
    SYNDICATION_THRESHOLD,
    SyndicationGroups,
    facts_agree,
    key_facts,
    signature,
    similarity,
)

__all__ = [
    "SYNDICATION_THRESHOLD",
    "SyndicationGroups",
    "facts_agree",
    "key_facts",
    "signature",
    "similarity",
]
