"""The ground floor: articles read, cut into chunks, embedded and stored, in that order.

    reading/      article files, web pages and feeds into `Article`s (text, body, metadata)
    chunking/     sentences with exact offsets, and the chunks cut from them
    embedding/    chunks and questions into vectors, in this process or from a server
    storing/      Chroma (chunks as llama-index nodes) and the on-disk BM25 index beside it
    syndication/  copies of one wire story under several outlets
    indexer.py    one run that takes files through all of them

The modules beside indexer.py are the common ground the jobs share: types, errors,
settings, word handling (text, words, stopwords), retries and file locks.
"""
