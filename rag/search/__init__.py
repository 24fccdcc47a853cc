"""Finding passages: hybrid dense + BM25 retrieval and the LM reranking mixed into it."""
