#!/usr/bin/env bash
# The harness on the public eval sets: retrieval (dense, BM25, hybrid, hybrid + rerank) and answers (extractive on every
# question; the local LLM and the OpenAI-compatible answerer on the first $GEN_LIMIT questions, as
# generation is ~1-2 s a question); results as JSON in benchmarks/results/.
# Usage: bash benchmarks/eval_public.sh [path/to/shared/eval]
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${1:-../shared/eval}
GEN_LIMIT=${GEN_LIMIT:-150}
mkdir -p benchmarks/results
export HF_HUB_OFFLINE=1
run() { .venv/bin/python -m rag eval --corpus "$EVAL/$1/corpus.jsonl" --questions "$EVAL/$1/questions.jsonl" "${@:2}"; }
# A real OpenAI-compatible server (llama.cpp's) on the bundled GGUF, for the `openai` answerer.
# --logits_all false: the server's default (true) runs Gemma's 262k-word output layer on every
# prompt token, which doubled the time to answer here (BENCHMARKS.md).
GGUF=$(.venv/bin/python -c "from rag.models.llm import default_cache_dir, resolve_llm as r; print('/'.join(r('', default_cache_dir())))")
.venv/bin/python -m llama_cpp.server --model "$GGUF" --host 127.0.0.1 --port 8090 --n_threads 2 --model_alias gemma \
  --logits_all false > "${TMPDIR:-/tmp}/rag-llama-server.log" 2>&1 &
server=$!
trap 'kill $server' EXIT
for set in piaf-fr squad-en; do
  other=$([ "$set" = piaf-fr ] && echo squad-en || echo piaf-fr)
  for mode in dense lexical; do
    run "$set" --mode "$mode" --no-answers --output "benchmarks/results/$set-$mode.json"
  done
  run "$set" --no-rerank --no-answers --output "benchmarks/results/$set-hybrid-norerank.json"
  # Hybrid + rerank (the default) and answers; the other set's questions are the unanswerable ones
  # for the gate.
  run "$set" --unanswerable "$EVAL/$other/questions.jsonl" --output "benchmarks/results/$set-hybrid.json"
  run "$set" --unanswerable "$EVAL/$other/questions.jsonl" --limit "$GEN_LIMIT" --answerer local \
    --output "benchmarks/results/$set-local.json"
  run "$set" --unanswerable "$EVAL/$other/questions.jsonl" --limit "$GEN_LIMIT" --answerer openai \
    --openai-base-url http://127.0.0.1:8090/v1 --openai-model gemma --output "benchmarks/results/$set-openai.json"
done
.venv/bin/python benchmarks/followups.py --json benchmarks/results/followups.json
