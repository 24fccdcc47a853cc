"""The index on disk: versioned folders made live atomically, the manifest that describes them,
the vector stores (FAISS, Milvus) and the BM25 index. No models."""
