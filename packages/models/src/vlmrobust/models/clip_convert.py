"""Convert an open_clip ``CLIP`` (ViT image tower, default text tower) into a Hugging Face ``CLIPModel``."""

from __future__ import annotations

import torch


def hf_clip_config_from_open_clip(model: torch.nn.Module, eos_token_id: int = 49407):
    """A ``CLIPConfig`` with the open_clip model's dimensions (GELU, LayerNorm eps 1e-5, no QuickGELU).

    Args:
        model: an open_clip ``CLIP`` with a ``VisionTransformer`` image tower and the built-in text tower.
        eos_token_id: token whose first position pools the text (open_clip's tokenizer: 49407, the
            highest id, which open_clip pools by argmax).
    """
    from transformers import CLIPConfig

    visual = model.visual
    v_block, t_block = visual.transformer.resblocks[0], model.transformer.resblocks[0]
    image_size = visual.image_size[0] if isinstance(visual.image_size, tuple) else visual.image_size
    return CLIPConfig(
        text_config={
            "vocab_size": model.token_embedding.num_embeddings,
            "hidden_size": model.transformer.width,
            "intermediate_size": t_block.mlp.c_fc.out_features,
            "num_hidden_layers": len(model.transformer.resblocks),
            "num_attention_heads": t_block.attn.num_heads,
            "max_position_embeddings": model.positional_embedding.shape[0],
            "hidden_act": "gelu",
            "layer_norm_eps": model.ln_final.eps,
            "eos_token_id": eos_token_id,
        },
        vision_config={
            "hidden_size": visual.transformer.width,
            "intermediate_size": v_block.mlp.c_fc.out_features,
            "num_hidden_layers": len(visual.transformer.resblocks),
            "num_attention_heads": v_block.attn.num_heads,
            "image_size": image_size,
            "patch_size": visual.conv1.kernel_size[0],
            "hidden_act": "gelu",
            "layer_norm_eps": visual.ln_pre.eps,
        },
        projection_dim=model.text_projection.shape[1],
    )


def _blocks(prefix_in: str, prefix_out: str, sd: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    out = {}
    for i in range(n):
        a, b = f"{prefix_in}.resblocks.{i}", f"{prefix_out}.encoder.layers.{i}"
        q, k, v = sd[f"{a}.attn.in_proj_weight"].chunk(3)  # [3W, W] -> 3 x [W, W]
        qb, kb, vb = sd[f"{a}.attn.in_proj_bias"].chunk(3)
        out |= {
            f"{b}.self_attn.q_proj.weight": q,
            f"{b}.self_attn.k_proj.weight": k,
            f"{b}.self_attn.v_proj.weight": v,
            f"{b}.self_attn.q_proj.bias": qb,
            f"{b}.self_attn.k_proj.bias": kb,
            f"{b}.self_attn.v_proj.bias": vb,
        }
        for src, dst in (
            ("attn.out_proj", "self_attn.out_proj"),
            ("ln_1", "layer_norm1"),
            ("ln_2", "layer_norm2"),
            ("mlp.c_fc", "mlp.fc1"),
            ("mlp.c_proj", "mlp.fc2"),
        ):
            out[f"{b}.{dst}.weight"] = sd[f"{a}.{src}.weight"]
            out[f"{b}.{dst}.bias"] = sd[f"{a}.{src}.bias"]
    return out


def open_clip_to_hf_clip_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The open_clip model's weights under ``CLIPModel`` names (load with ``strict=True``).

    Raises:
        ValueError: an image tower other than open_clip's ``VisionTransformer`` (e.g. ModifiedResNet, timm).
    """
    if not hasattr(model, "visual") or not hasattr(model.visual, "class_embedding"):
        raise ValueError(
            f"only open_clip ViT models convert to CLIPModel, got {type(getattr(model, 'visual', model))}"
        )
    sd = model.state_dict()
    n_vision, n_text = len(model.visual.transformer.resblocks), len(model.transformer.resblocks)
    out = {
        "vision_model.embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        "vision_model.embeddings.class_embedding": sd["visual.class_embedding"],
        "vision_model.embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        "vision_model.pre_layrnorm.weight": sd["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": sd["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": sd["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": sd["visual.ln_post.bias"],
        "visual_projection.weight": sd["visual.proj"].T,  # open_clip: x @ proj; HF: Linear (x @ W.T)
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].T,
        "logit_scale": sd["logit_scale"].reshape(()),
    }
    out |= _blocks("visual.transformer", "vision_model", sd, n_vision)
    out |= _blocks("transformer", "text_model", sd, n_text)
    return {k: v.detach().clone().contiguous() for k, v in out.items()}
