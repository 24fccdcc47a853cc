"""The models and their runtimes: the embedder (torch, ONNX, OpenVINO), causal LMs (transformers,
llama.cpp), an OpenAI-compatible client, and query-likelihood scoring for the reranker."""
