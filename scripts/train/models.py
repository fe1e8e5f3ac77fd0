"""The two bundled architectures in PyTorch, with Hugging Face's parameter names.

Qwen2 (R1-Distill-Qwen): RMSNorm, q/k/v with biases, grouped-query attention, rotary embedding on the two
halves of each head (NEOX style), SwiGLU MLP, tied embeddings.

DeepSeek-V3 (R1 671B) in miniature: multi-head latent attention (q through q_a/q_a_layernorm/q_b; keys and
values from one latent of kv_lora_rank values plus a shared rotary key), rotary embedding on adjacent pairs
(what llama.cpp computes; Hugging Face's DeepseekV3 code permutes the pairs into halves first, which gives the
same attention scores), leading dense layers, then MoE layers: a sigmoid router whose score-correction bias
`e_score_correction_bias` only chooses experts, group-limited top-k, normalized weights times
routed_scaling_factor, plus a shared expert. The bias is not trained by gradient: `update_router_bias`
nudges it toward equal expert load after each step (DeepSeek-V3's auxiliary-loss-free balancing).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(n_pos, dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    ang = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv)  # [n_pos, dim/2]
    return ang.cos(), ang.sin()


def rope_halves(x, cos, sin):
    """x [..., T, d]: pairs (i, i + d/2) rotated by angle i (Qwen2, NEOX)."""
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def rope_pairs(x, cos, sin):
    """x [..., T, d]: pairs (2i, 2i + 1) rotated by angle i (llama.cpp's NORM rope for deepseek2)."""
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def attention_bias(pad_mask):
    """[B, 1, T, T]: 0 where a query may see a key (causal, not padding), -inf elsewhere."""
    T = pad_mask.shape[1]
    see = torch.ones(T, T, dtype=torch.bool, device=pad_mask.device).tril()[None, None] & pad_mask[:, None, None, :]
    return torch.zeros(see.shape, device=pad_mask.device).masked_fill(~see, float("-inf"))


def causal_attention(q, k, v, bias, scale):
    """q [B, H, T, dk], k [B, H, T, dk], v [B, H, T, dv]; bias from attention_bias."""
    return torch.softmax(torch.baddbmm(bias.expand(q.shape[0], q.shape[1], -1, -1).flatten(0, 1),
                                       q.flatten(0, 1), k.flatten(0, 1).transpose(1, 2), alpha=scale),
                         dim=-1).view(*q.shape[:3], -1) @ v


# ---------------------------------------------------------------- Qwen2

class Qwen2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh, self.nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = d // self.nh
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=True)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x, cos, sin, pad_mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q, k = rope_halves(q, cos, sin), rope_halves(k, cos, sin)
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        o = causal_attention(q, k, v, pad_mask, 1.0 / math.sqrt(self.hd))
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


class Qwen2Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Qwen2Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = Mlp(c["hidden_size"], c["intermediate_size"])

    def forward(self, x, cos, sin, pad_mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, pad_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


# ---------------------------------------------------------------- DeepSeek-V3

class MlaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh = c["hidden_size"], c["num_attention_heads"]
        self.nope, self.rope, self.vd = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        self.rank = c["kv_lora_rank"]
        self.q_a_proj = nn.Linear(d, c["q_lora_rank"], bias=False)
        self.q_a_layernorm = RMSNorm(c["q_lora_rank"], c["rms_norm_eps"])
        self.q_b_proj = nn.Linear(c["q_lora_rank"], self.nh * (self.nope + self.rope), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, self.rank + self.rope, bias=False)
        self.kv_a_layernorm = RMSNorm(self.rank, c["rms_norm_eps"])
        self.kv_b_proj = nn.Linear(self.rank, self.nh * (self.nope + self.vd), bias=False)
        self.o_proj = nn.Linear(self.nh * self.vd, d, bias=False)

    def forward(self, x, cos, sin, pad_mask):
        B, T, _ = x.shape
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))).view(B, T, self.nh, self.nope + self.rope)
        q = q.transpose(1, 2)
        q_nope, q_pe = q[..., :self.nope], q[..., self.nope:]
        kv = self.kv_a_proj_with_mqa(x)
        latent, k_pe = kv[..., :self.rank], kv[..., self.rank:]
        kvb = self.kv_b_proj(self.kv_a_layernorm(latent)).view(B, T, self.nh, self.nope + self.vd).transpose(1, 2)
        k_nope, v = kvb[..., :self.nope], kvb[..., self.nope:]
        q_pe = rope_pairs(q_pe, cos, sin)
        k_pe = rope_pairs(k_pe[:, None], cos, sin).expand(B, self.nh, T, self.rope)
        qf = torch.cat([q_nope, q_pe], dim=-1)
        kf = torch.cat([k_nope, k_pe], dim=-1)
        # Values narrower than the keys are padded with zeros to the keys' width for the products only: the
        # same sums, but PyTorch's CPU product of the 32-wide case (its backward) ran 10x slower per step.
        pad = self.nope + self.rope - self.vd
        vp = F.pad(v, (0, pad)) if pad > 0 else v
        o = causal_attention(qf, kf, vp, pad_mask, 1.0 / math.sqrt(self.nope + self.rope))[..., :self.vd]
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


class Expert(Mlp):
    pass


class Gate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c["n_routed_experts"], c["hidden_size"]) * 0.02)
        self.register_buffer("e_score_correction_bias", torch.zeros(c["n_routed_experts"]))


class Moe(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.gate = Gate(c)
        self.experts = nn.ModuleList(Expert(c["hidden_size"], c["moe_intermediate_size"])
                                     for _ in range(c["n_routed_experts"]))
        self.shared_experts = Mlp(c["hidden_size"], c["moe_intermediate_size"] * c["n_shared_experts"])
        self.last_load = None

    def route(self, x):
        """x [N, d] -> (expert ids [N, k], weights [N, k]) as DeepSeek-V3's noaux_tc router."""
        c = self.c
        scores = torch.sigmoid(x @ self.gate.weight.t())  # [N, E]
        biased = scores.detach() + self.gate.e_score_correction_bias
        N, E = biased.shape
        g = c["n_group"]
        groups = biased.view(N, g, E // g).topk(2, dim=-1).values.sum(-1)  # [N, g]
        keep = torch.zeros_like(groups).scatter_(1, groups.topk(c["topk_group"], dim=-1).indices, 1.0)
        keep = keep[:, :, None].expand(N, g, E // g).reshape(N, E)
        ids = biased.masked_fill(keep == 0, float("-inf")).topk(c["num_experts_per_tok"], dim=-1).indices
        w = scores.gather(1, ids)
        if c["norm_topk_prob"]:
            w = w / (w.sum(-1, keepdim=True) + 1e-20)
        return ids, w * c["routed_scaling_factor"]

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        ids, w = self.route(x)
        out = self.shared_experts(x)
        load = torch.zeros(len(self.experts), device=x.device)
        for e, expert in enumerate(self.experts):
            tok, slot = (ids == e).nonzero(as_tuple=True)
            load[e] = len(tok)
            if len(tok):
                out = out.index_add(0, tok, expert(x[tok]) * w[tok, slot, None])
        self.last_load = load
        return out.view(shape)


class DeepseekLayer(nn.Module):
    def __init__(self, c, index):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = MlaAttention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        dense = index < c["first_k_dense_replace"]
        self.mlp = Mlp(c["hidden_size"], c["intermediate_size"]) if dense else Moe(c)

    def forward(self, x, cos, sin, pad_mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, pad_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


# ---------------------------------------------------------------- the causal LM around either

class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        deepseek = c["model_type"] == "deepseek_v3"
        self.layers = nn.ModuleList(DeepseekLayer(c, i) if deepseek else Qwen2Layer(c)
                                    for i in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        if not c["tie_word_embeddings"]:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        rope_dim = c["qk_rope_head_dim"] if c["model_type"] == "deepseek_v3" else c["hidden_size"] // c[
            "num_attention_heads"]
        cos, sin = rope_tables(c["max_position_embeddings"], rope_dim, c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
                if name.endswith(("o_proj.weight", "down_proj.weight")):
                    p.data /= math.sqrt(2 * c["num_hidden_layers"])
            elif name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(self, ids, pad_mask):
        """ids [B, T] -> logits [B, T, vocab]."""
        T = ids.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        x = self.model.embed_tokens(ids)
        pad_mask = attention_bias(pad_mask)
        for layer in self.model.layers:
            x = layer(x, cos, sin, pad_mask)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.c["tie_word_embeddings"] else self.lm_head.weight
        return x @ head.t()

    def update_router_bias(self, speed):
        for m in self.modules():
            if isinstance(m, Moe) and m.last_load is not None:
                load = m.last_load
                m.gate.e_score_correction_bias += speed * torch.sign(load.mean() - load)

    def hf_state_dict(self):
        """Hugging Face names -> float32 tensors (router bias included; tied head left out)."""
        out = {}
        for name, t in self.state_dict().items():
            if name.startswith(("cos", "sin")):
                continue
            out[name] = t.detach().float().cpu().contiguous()
        return out
