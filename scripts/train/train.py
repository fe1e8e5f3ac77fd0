#!/usr/bin/python3
"""Trains one bundled reasoning model on CPU and saves it as a Hugging Face folder.

    scripts/train/train.py --arch qwen2 --out build/train/qwen2 [--minutes 55] [--workers 2] [--seed 1]
        [--set KEY=VALUE]... [--mix FAMILY=WEIGHT,...]

--set changes an entry of the architecture's config (heads, sizes, ...), --mix the training mix of the task
families; both are written to the log, and --set to config.json, so a variant is a command line, not a copy of
this script.

Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json (with R1's chat template) and
train_log.txt. `r1 convert` turns the folder into the GGUF under models/ (see models/README.md).
Deterministic for a given seed and thread count, up to the wall-clock budget deciding the step count; pass
--steps to fix the step count instead.
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import time


def _thread_env(argv):
    """PyTorch's matrix products here run in OpenBLAS, which reads its thread count once, when it loads; and
    torch's own OpenMP workers, left to spin-wait, take the cores from OpenBLAS's threads (2 threads trained
    at 2,400 tokens/s, against 3,100 with passive waiting, on this 2-core machine). Both are set before torch
    is imported. Worker processes (--workers) inherit them."""
    threads = "1"
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.split("=", 1)[1]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# glibc hands the attention's tens-of-MB tensors back to the kernel when they are freed (the heap's top is
# trimmed, or the block was mapped on its own) and every step faults them in again, page by page: deepseek2
# spent a quarter of its time so. Keeping freed memory in the process trained it at 1,172 tokens/s in one
# single-threaded process instead of 904. glibc reads these settings only when a process starts, so the
# script starts itself again with them (the worker processes inherit them).
MALLOC_TUNABLES = ("glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432:"
                   "glibc.malloc.top_pad=268435456")


def _malloc_env(argv):
    current = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.trim_threshold" in current:
        return
    os.environ["GLIBC_TUNABLES"] = f"{current}:{MALLOC_TUNABLES}" if current else MALLOC_TUNABLES
    os.execv(sys.executable, [sys.executable, os.path.abspath(argv[0])] + argv[1:])


if __name__ == "__main__":
    _malloc_env(sys.argv)
    _thread_env(sys.argv)

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import models  # noqa: E402
import tasks  # noqa: E402

# R1's conversation format: BOS, the system prompt, <｜User｜>…, <｜Assistant｜>… <｜end▁of▁sentence｜>; past
# assistant turns keep only what follows </think>; the generation prompt opens the reasoning with "<think>\n"
# (or closes it at once when enable_thinking is false).
CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set ns.system = ns.system + message['content'] -%}{%- endif -%}"
    "{%- endfor -%}"
    "{{- bos_token + ns.system -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{- '<｜User｜>' + message['content'] -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{%- set content = message['content'] -%}"
    "{%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1] | trim -%}{%- endif -%}"
    "{{- '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<｜Assistant｜>' -}}"
    "{%- if enable_thinking is defined and not enable_thinking -%}{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- else -%}{{- '<think>\\n' -}}{%- endif -%}"
    "{%- endif -%}")


def config_for(arch, vocab_size):
    common = {"hidden_size": 256, "rms_norm_eps": 1e-6, "max_position_embeddings": 2048, "vocab_size": vocab_size,
              "hidden_act": "silu", "torch_dtype": "float32", "initializer_range": 0.02,
              "attention_dropout": 0.0, "use_cache": True}
    if arch == "qwen2":
        return {**common, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "num_hidden_layers": 4,
                "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 768,
                "rope_theta": 10000.0, "tie_word_embeddings": True, "sliding_window": 2048,
                "use_sliding_window": False, "max_window_layers": 4}
    return {**common, "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
            "num_hidden_layers": 4, "first_k_dense_replace": 1, "num_attention_heads": 8,
            "num_key_value_heads": 8, "intermediate_size": 768, "moe_intermediate_size": 256,
            "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 4,
            "topk_group": 2, "norm_topk_prob": True, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
            "topk_method": "noaux_tc", "q_lora_rank": 256, "kv_lora_rank": 256, "qk_nope_head_dim": 32,
            "qk_rope_head_dim": 32, "v_head_dim": 32, "rope_theta": 10000.0, "rope_scaling": None,
            "tie_word_embeddings": False, "num_nextn_predict_layers": 0, "moe_layer_freq": 1,
            "ep_size": 1, "aux_loss_alpha": 0.0, "seq_aux": False}


def parse_override(kv):
    """--set KEY=VALUE: the value as JSON (numbers, true/false, null, lists), else as the string itself."""
    key, sep, value = kv.partition("=")
    if not sep or not key:
        raise ValueError(f"--set wants KEY=VALUE, got {kv!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_mix_entry(kv):
    family, sep, weight = kv.partition("=")
    if not sep or family not in tasks.TRAIN_MIX:
        raise ValueError(f"--mix wants FAMILY=WEIGHT with a family of {sorted(tasks.TRAIN_MIX)}, got {kv!r}")
    try:
        w = float(weight)
    except ValueError:
        raise ValueError(f"--mix: {weight!r} is not a number") from None
    if w < 0:
        raise ValueError(f"--mix: {family} has a negative weight")
    return family, w


def with_overrides(config, overrides):
    unknown = sorted(k for k in overrides if k not in config)
    if unknown:
        raise SystemExit(f"train.py: --set names no config entry: {', '.join(unknown)}")
    return {**config, **overrides}


def prompt_for(question):
    """The text before the model's turn (the chat template's rendering of one user message)."""
    return f"{bpe.BOS}{bpe.USER}{question}{bpe.ASSISTANT}"


def conversation(s):
    """(prompt, completion): the text before the model's turn and what the model learns to write."""
    prompt = prompt_for(s["question"])
    completion = f"{bpe.THINK}\n{s['reasoning']}\n{bpe.END_THINK}\n\n{s['final']}{bpe.EOS}"
    return prompt, completion


def encode_example(tok, s):
    prompt, completion = conversation(s)
    p, c = tok.encode(prompt), tok.encode(completion)
    return p + c, len(p)


def batches(tok, rng, batch_tokens):
    """Endless batches (ids [B, T], loss mask [B, T], pad mask [B, T]) of examples of similar length."""
    while True:
        pool = [encode_example(tok, tasks.sample(rng, "train")) for _ in range(512)]
        pool.sort(key=lambda e: len(e[0]))
        chunk = []
        for ids, n_prompt in pool:
            chunk.append((ids, n_prompt))
            if len(chunk) * len(ids) >= batch_tokens:
                yield collate(chunk)
                chunk = []
        # the remainder is dropped: the next pool is fresh data anyway


def collate(chunk):
    T = max(len(ids) for ids, _ in chunk)
    ids = torch.zeros(len(chunk), T, dtype=torch.long)
    loss = torch.zeros(len(chunk), T, dtype=torch.bool)
    pad = torch.zeros(len(chunk), T, dtype=torch.bool)
    for i, (seq, n_prompt) in enumerate(chunk):
        ids[i, :len(seq)] = torch.tensor(seq)
        pad[i, :len(seq)] = True
        loss[i, n_prompt - 1:len(seq) - 1] = True  # position t predicts token t + 1
    return ids, loss, pad


@torch.no_grad()
def teacher_forced_exact(model, tok, problems):
    """How many problems the model writes exactly, token for token, when each step's argmax is checked
    against the reference trace: a lower bound on greedy accuracy that takes one forward pass each."""
    right = 0
    for s in problems:
        ids, n_prompt = encode_example(tok, s)
        x = torch.tensor([ids], device=model.cos.device)
        pred = model(x, torch.ones_like(x, dtype=torch.bool))[0].argmax(-1)
        right += bool((pred[n_prompt - 1:-1] == x[0, n_prompt:]).all())
    return right


def save_safetensors(tensors, path):
    """safetensors: 8-byte little-endian header length, the JSON header, then the raw tensors."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def save_folder(out, model, tok, config):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({**config, "bos_token_id": tok.added[bpe.BOS], "eos_token_id": tok.added[bpe.EOS]}, f, indent=2)
    tok.save(os.path.join(out, "tokenizer.json"))
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": bpe.BOS, "eos_token": bpe.EOS,
                  "pad_token": bpe.PAD, "model_max_length": config["max_position_embeddings"],
                  "tokenizer_class": "LlamaTokenizerFast", "clean_up_tokenization_spaces": False,
                  "legacy": True, "chat_template": CHAT_TEMPLATE}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_config, f, ensure_ascii=False, indent=2)
    # Written beside and renamed over: a checkpoint converted while training goes on never reads a torn file.
    path = os.path.join(out, "model.safetensors")
    save_safetensors(model.hf_state_dict(), path + ".tmp")
    os.replace(path + ".tmp", path)


class Replicas:
    """Data parallelism over worker processes (--workers): every worker holds the same weights, draws its own
    batches, and after each backward pass the gradients are averaged (one all-reduce over gloo, this machine's
    loopback), so all workers take the same optimizer step. These models' matrices are too small for OpenBLAS
    to split well over two threads: on 2 cores, deepseek2 trained at 1,323 tokens/s in one process with two
    threads, 1,931 with two single-threaded workers of 2,048-token batches. The same reduction carries what
    must agree across workers: the router's expert loads (summed, so every worker nudges its router bias
    alike), the token count, the loss and the elapsed time (which sets the learning rate and the end)."""

    def __init__(self, rank, world, port):
        self.world = world
        self.parent = os.getppid()
        if world > 1:
            import torch.distributed as dist  # noqa: E402
            self.dist = dist
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)

    def same_start(self, model):
        """Rank 0's weights everywhere (they are equal already: same seed; this makes it a fact)."""
        if self.world > 1:
            for t in model.state_dict().values():
                self.dist.broadcast(t, 0)

    def reduce(self, model, moes, extras):
        """Averages the gradients (a missing one counts as zero), sums the MoE loads; extras (floats) are
        averaged. Returns the averaged extras."""
        params = list(model.parameters())
        if self.world == 1:
            return extras
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params] + [m.last_load for m in moes] +
                         [torch.tensor(extras, dtype=torch.float32)])
        self.dist.all_reduce(flat)
        at = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[at:at + n].view_as(p.grad) / self.world)
            at += n
        for m in moes:
            n = m.last_load.numel()
            m.last_load = flat[at:at + n].clone()
            at += n
        return (flat[at:] / self.world).tolist()

    def orphaned(self):
        """True when the launching process has gone (killed): the workers would otherwise train on, keeping
        each other alive over gloo."""
        return self.world > 1 and os.getppid() != self.parent

    def barrier(self):
        if self.world > 1:
            self.dist.barrier()

    def close(self):
        if self.world > 1:
            self.dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["qwen2", "deepseek2"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=55.0)
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (default: as many as fit)")
    ap.add_argument("--workers", type=int, default=2, help="data-parallel worker processes")
    ap.add_argument("--threads", type=int, default=1, help="OpenBLAS threads per worker")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-tokens", type=int, default=4096, help="tokens per step, shared among the workers")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--device", default="cpu",
                    help="where PyTorch trains (cpu; cuda to try recipes quickly on a GPU, with --workers 1 and "
                         "--steps: the bundled models are trained on CPU)")
    ap.add_argument("--init", default="", help="continue from this saved folder (vocabulary and weights)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override an entry of config.json, the value read as JSON (repeatable), "
                         "e.g. --set num_attention_heads=16")
    ap.add_argument("--mix", default="", metavar="FAMILY=WEIGHT,...",
                    help="how often each task family is drawn in training (default: tasks.TRAIN_MIX), "
                         "e.g. --mix add=2,sub=2,mul=3,convert=1,word=6")
    args = ap.parse_args()
    try:
        args.set = dict(parse_override(kv) for kv in args.set)
        args.mix = dict(parse_mix_entry(kv) for kv in args.mix.split(",") if kv)
    except ValueError as e:
        ap.error(str(e))
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    if args.device != "cpu" and args.workers != 1:
        ap.error("--device other than cpu wants --workers 1 (the workers meet over gloo, which reduces on CPU)")
    if args.workers == 1:
        train(0, args, 0)
        return
    import socket  # noqa: E402
    with socket.socket() as s:  # a free port for the workers to meet on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import torch.multiprocessing as mp  # noqa: E402
    mp.spawn(train, args=(args, port), nprocs=args.workers)


def train(rank, args, port):
    replicas = Replicas(rank, args.workers, port)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    lead = rank == 0
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "train_log.txt"), "w") if lead else None

    def say(msg):
        if lead:
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()

    tasks.TRAIN_MIX.update(args.mix)  # every worker process draws from the same mix
    if args.mix:
        say("training mix " + ", ".join(f"{f}={w:g}" for f, w in tasks.TRAIN_MIX.items()))
    if args.set:
        say("config overrides " + ", ".join(f"{k}={json.dumps(v)}" for k, v in args.set.items()))
    corpus = []
    for _ in range(3000):
        prompt, completion = conversation(tasks.sample(rng, "train"))
        corpus.append(prompt + completion)
    if args.init:
        # Continue from a saved folder: its vocabulary and weights (the router bias included).
        import verify  # noqa: E402 (PyTorch-side loaders)
        tok = verify.load_tokenizer(args.init)
        config = with_overrides(config_for(args.arch, len(tok)), args.set)
        model = verify.load_weights(models.CausalLM(config), args.init)
        say(f"continuing from {args.init}")
    else:
        tok = bpe.train([t for text in corpus for t in tok_free_parts(text)], args.vocab)
        config = with_overrides(config_for(args.arch, len(tok)), args.set)
        model = models.CausalLM(config)
    model.to(args.device)
    replicas.same_start(model)
    moes = [m for m in model.modules() if isinstance(m, models.Moe)]
    n_params = sum(p.numel() for p in model.parameters())
    say(f"arch {args.arch}, vocab {len(tok)}, parameters {n_params:,}, workers {args.workers} "
        f"x {args.threads} threads, seed {args.seed}")
    lengths = [len(tok.encode(t)) for t in corpus[:200]]
    say(f"tokens per example: mean {sum(lengths) / len(lengths):.0f}, max {max(lengths)}")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    budget = args.minutes * 60
    start = time.time()
    step, seen, warmup, elapsed = 0, 0, 100, 0.0
    # Worker 0 draws what a single process draws; the others, streams of their own.
    data = batches(tok, rng if rank == 0 else random.Random(args.seed * 7919 + rank),
                   args.batch_tokens // args.workers)
    while True:
        progress = step / args.steps if args.steps else elapsed / budget
        if progress >= 1.0:
            break
        if replicas.orphaned():
            raise SystemExit(f"worker {rank}: the launching process is gone; stopping")
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        ids, loss_mask, pad = (t.to(args.device) for t in next(data))
        logits = model(ids, pad)
        target = ids[:, 1:]
        lp = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), target.reshape(-1),
                                               reduction="none").view(target.shape)
        m = loss_mask[:, :-1]
        loss = (lp * m).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        loss_avg, tokens_avg, elapsed = replicas.reduce(
            model, moes, [loss.item(), float(pad.sum()), time.time() - start])
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.update_router_bias(1e-3)
        seen += round(tokens_avg * args.workers)
        step += 1
        if step % 25 == 0:
            say(f"step {step} loss {loss_avg:.4f} lr {lr:.2e} tokens {seen:,} {seen / elapsed:.0f} tok/s "
                f"{elapsed / 60:.1f} min")
        if step % 250 == 0 and lead:
            save_folder(args.out, model, tok, config)
            model.eval()
            probe = [tasks.sample(random.Random(step), "heldout", fam) for fam in tasks.TASKS for _ in range(4)]
            say(f"checkpoint: {teacher_forced_exact(model, tok, probe)} of {len(probe)} held-out traces exact")
            model.train()

    if lead:
        model.eval()
        save_folder(args.out, model, tok, config)
        check_rng = random.Random(12345)
        probe = [tasks.sample(check_rng, "heldout", fam) for fam in tasks.TASKS for _ in range(20)]
        right = teacher_forced_exact(model, tok, probe)
        say(f"done: {step} steps, {seen:,} tokens, {(time.time() - start) / 60:.1f} min; "
            f"{right} of {len(probe)} held-out traces exact under teacher forcing")
    replicas.barrier()
    replicas.close()


def tok_free_parts(text):
    """The text between added tokens: what BPE merges are learned on."""
    return [p for p in bpe.Tokenizer([]).special_re.split(text) if p and p not in dict(bpe.ADDED)]


if __name__ == "__main__":
    main()
