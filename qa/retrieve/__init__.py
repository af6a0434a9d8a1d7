"""Retrieval: a `Searcher` (our hybrid BM25 + dense `HybridNodeRetriever`, or any llama-index
retriever wrapped), the articles an answer may use (`article_scope`), and
`Retrieval.run(...) -> list[Hit]` (search, then any node postprocessors)."""

from qa.retrieve.chunks import Retrieval, RetrievalScores
from qa.retrieve.filters import ArticleFilter, EmptyRange
from qa.retrieve.hybrid import Hit
from qa.retrieve.node_retriever import HybridNodeRetriever
from qa.retrieve.scope import article_scope
from qa.retrieve.searcher import Searcher, searcher_for, with_copies

__all__ = [
    "ArticleFilter",
    "EmptyRange",
    "Hit",
    "HybridNodeRetriever",
    "Retrieval",
    "RetrievalScores",
    "Searcher",
    "article_scope",
    "searcher_for",
    "with_copies",
]
