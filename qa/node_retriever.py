"""The public import path of `HybridNodeRetriever` (README); it lives in qa/retrieve/."""

from qa.retrieve.node_retriever import HybridNodeRetriever

__all__ = ["HybridNodeRetriever"]
