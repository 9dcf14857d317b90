"""Tiny random-init Hugging Face models written as complete model directories.

A directory written here holds everything a real checkpoint holds (``config.json``, safetensors weights, a
``tokenizers`` tokenizer, an image processor, a processor with a chat template), so tests and benchmarks load it
through the same ``from_pretrained`` path (``load_vlm("hf:<dir>")``) a user's real model takes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import torch

# LLaVA-1.5's conversation format: "USER: <image>\n{question} ASSISTANT: {answer}</s>".
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "<image>")

# Sentences the tiny byte-level BPE is trained on (any text still tokenizes: the byte alphabet is kept).
_CORPUS = (
    "USER: What type of object is in this photo? ASSISTANT: a red square",
    "Answer with the option's letter from the given choices directly.",
    "A. circle B. square C. triangle D. star E. hexagon",
    "a photo of a dog. a photo of a cat. a blue circle to the left of a green triangle.",
    "Represent the given image with the following question:",
)


def train_tiny_tokenizer(
    vocab_size: int = 384,
    model_max_length: int = 512,
    special_tokens: tuple[str, ...] = SPECIAL_TOKENS,
    roles: dict[str, str] | None = None,
    add_bos: bool = True,
):
    """Train a byte-level BPE with the ``tokenizers`` library and wrap it as a ``PreTrainedTokenizerFast``.

    Args:
        vocab_size: target vocabulary size (bytes + merges + special tokens).
        model_max_length: maximum sequence length recorded in the tokenizer config.
        special_tokens: tokens kept whole, in id order from 0.
        roles: ``bos_token``/``eos_token``/``unk_token``/``pad_token`` -> token, plus ``extra_special_tokens``
            names such as ``image_token``; default: LLaVA's ``<s>``, ``</s>``, ``<unk>``, ``<pad>``, ``<image>``.
        add_bos: prepend the bos token to every encoded text.

    Returns:
        The tokenizer (left padding).
    """
    roles = roles or {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "image_token": "<image>",
    }
    standard = {k: v for k, v in roles.items() if k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    extra = {k: v for k, v in roles.items() if k not in standard}
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=standard.get("unk_token")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    if add_bos:
        bos = standard["bos_token"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        **standard,
        extra_special_tokens=extra,
        model_max_length=model_max_length,
        padding_side="left",
    )


def write_tiny_llava(
    path: str | os.PathLike[str],
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 64,
    num_layers: int = 2,
    chat_template: str | None = LLAVA_CHAT_TEMPLATE,
) -> Path:
    """Write a complete tiny LLaVA-1.5-style model directory (CLIP vision tower + Llama LM, random init).

    Args:
        path: destination directory (created).
        seed: seed of the random init (the global RNG is left untouched).
        image_size: input resolution of the vision tower (pixels).
        patch_size: vision patch size; the image takes ``(image_size // patch_size) ** 2 + 1`` tokens.
        hidden_size: width of both towers.
        num_layers: depth of both towers.
        chat_template: processor chat template; ``None`` writes a processor without one (to test errors).

    Returns:
        The directory, loadable with ``load_vlm(f"hf:{path}")``.
    """
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tiny_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=hidden_size,
        initializer_range=0.2,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.2,  # peaked next-token distributions, so likelihood tests can tell options apart
    )
    num_image_tokens = (
        image_size // patch_size
    ) ** 2  # "full" strategy keeps every patch, drops nothing else
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token_id,
        image_seq_length=num_image_tokens,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="full",
        chat_template=chat_template,
        num_additional_image_tokens=1,  # CLIP's CLS token, kept by the "full" strategy
    )
    processor.save_pretrained(path)
    return path


# Qwen2-VL's ChatML format with its vision markers (no system turn, to keep prompts short).
QWEN2_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN2_VL_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def write_tiny_qwen2_vl(
    path: str | os.PathLike[str],
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 64,
    num_layers: int = 2,
    chat_template: str | None = QWEN2_VL_CHAT_TEMPLATE,
) -> Path:
    """Write a complete tiny Qwen2-VL model directory (random init, multimodal RoPE, 2x2 patch merging).

    Args:
        path: destination directory (created).
        seed: seed of the random init (the global RNG is left untouched).
        image_size: images are resized to ``image_size`` x ``image_size`` pixels.
        patch_size: vision patch size; an image takes ``(image_size // patch_size // 2) ** 2`` LM tokens.
        hidden_size: width of both towers (4 attention heads in the LM, head dim ``hidden_size // 4``).
        num_layers: depth of both towers.
        chat_template: processor chat template; ``None`` writes a processor without one.

    Returns:
        The directory, loadable with ``load_vlm(f"hf:{path}")``.
    """
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tiny_tokenizer(
        special_tokens=QWEN2_VL_SPECIAL_TOKENS,
        roles={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        add_bos=False,
    )
    ids = tokenizer.convert_tokens_to_ids
    half_head = hidden_size // 4 // 2  # rotary frequencies per head, split over (time, height, width)
    section = [half_head - 2 * (half_head // 3), half_head // 3, half_head // 3]
    config = Qwen2VLConfig(
        vision_config={
            "depth": num_layers,
            "embed_dim": hidden_size,
            "hidden_size": hidden_size,
            "num_heads": 2,
            "patch_size": patch_size,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "initializer_range": 0.2,
        },
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section},
            "initializer_range": 0.2,
            "bos_token_id": None,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    pixels = image_size * image_size
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": pixels, "longest_edge": pixels},
        patch_size=patch_size,
        temporal_patch_size=2,
        merge_size=2,
    )
    video_processor = Qwen2VLVideoProcessor(
        size={"shortest_edge": pixels, "longest_edge": pixels},
        patch_size=patch_size,
        temporal_patch_size=2,
        merge_size=2,
    )
    processor = Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=chat_template,
    )
    processor.save_pretrained(path)
    return path


CLIP_SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftext|>")


def train_tiny_clip_tokenizer(context_length: int = 32):
    """A tiny byte-level BPE framed like CLIP's: ``<|startoftext|> … <|endoftext|>``, padded with eos."""
    from tokenizers import processors

    tokenizer = train_tiny_tokenizer(
        special_tokens=CLIP_SPECIAL_TOKENS,
        roles={"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
        add_bos=False,
        model_max_length=context_length,
    )
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", bos), ("<|endoftext|>", eos)],
    )
    tokenizer.padding_side = "right"
    return tokenizer


def write_tiny_hf_clip(
    path: str | os.PathLike[str],
    seed: int = 0,
    model: torch.nn.Module | None = None,
    image_size: int = 32,
    family: Literal["clip", "siglip"] = "clip",
) -> Path:
    """Write a complete tiny Hugging Face ``CLIPModel``/``SiglipModel`` directory (weights, tokenizer, image
    processor).

    Args:
        path: destination directory (created).
        seed: seed of the random init when ``model`` is None (global RNG untouched).
        model: an open_clip ViT CLIP whose weights (converted) the directory holds instead of a random init
            (``family="clip"`` only); its config then uses open_clip's tokenizer ids (vocab 49408, eos 49407)
            and the tiny tokenizer written beside it only serves string input.
        image_size: input resolution of the image processor (must match the model).
        family: ``clip`` (softmax, eos-token pooling) or ``siglip`` (sigmoid with a logit bias, last-token
            pooling; written with SigLIP's init scale 10 and bias -10).

    Returns:
        The directory, loadable with ``load_scorer(f"hf:{path}")``.
    """
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, SiglipConfig, SiglipModel

    from vlmrobust.models.clip_convert import hf_clip_config_from_open_clip, open_clip_to_hf_clip_state_dict

    path = Path(path)
    tokenizer = train_tiny_clip_tokenizer()
    if model is not None:
        if family != "clip":
            raise ValueError(f"only family='clip' converts open_clip weights, got {family!r}")
        config = hf_clip_config_from_open_clip(model)
        hf_model = CLIPModel(config)
        hf_model.load_state_dict(open_clip_to_hf_clip_state_dict(model), strict=True)
    else:
        common = {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        }
        text = {
            **common,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 32,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
        vision = {**common, "image_size": image_size, "patch_size": 8}
        if family == "clip":
            config, model_class = (
                CLIPConfig(text_config=text, vision_config=vision, projection_dim=64),
                CLIPModel,
            )
        else:
            config, model_class = SiglipConfig(text_config=text, vision_config=vision), SiglipModel
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            hf_model = model_class(config)
        if family == "siglip":
            with torch.no_grad():
                hf_model.logit_scale.fill_(math.log(10.0))
                hf_model.logit_bias.fill_(-10.0)
    hf_model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(path)
    return path


# SmolVLM's (Idefics3) format: "<|im_start|>User:<image>question<end_of_utterance>\nAssistant:".
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}: {{ message['content'] }}{% else %}"
    "{% if message['content'][0]['type'] == 'image' %}:{% else %}: {% endif %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'text' %}{{ item['text'] }}{% elif item['type'] == 'image' %}<image>{% endif %}"
    "{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def write_tiny_idefics3(
    path: str | os.PathLike[str],
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 64,
    num_layers: int = 2,
    chat_template: str | None = IDEFICS3_CHAT_TEMPLATE,
) -> Path:
    """Write a complete tiny Idefics3 (SmolVLM-style) model directory (SigLIP tower + Llama LM, random init).

    Images are resized to ``image_size`` and not split into tiles; pixel shuffle (scale factor 2) leaves
    ``(image_size // patch_size // 2) ** 2`` image tokens.

    Args:
        path: destination directory (created).
        seed: seed of the random init (the global RNG is left untouched).
        image_size: vision tower resolution.
        patch_size: vision patch size.
        hidden_size: width of both towers.
        num_layers: depth of both towers.
        chat_template: processor chat template; ``None`` writes a processor without one.

    Returns:
        The directory, loadable with ``load_vlm(f"hf:{path}")``.
    """
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tiny_tokenizer(
        special_tokens=("<unk>", "<|im_start|>", "<end_of_utterance>", "<pad>"),
        roles={
            "bos_token": "<|im_start|>",
            "eos_token": "<end_of_utterance>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
        },
        add_bos=False,
    )
    image_seq_len = (image_size // patch_size // 2) ** 2
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": image_size},
        max_image_size={"longest_edge": image_size},
    )
    # The processor adds its special tokens (<image>, <fake_token_around_image>, …) to the tokenizer.
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=image_seq_len,
        chat_template=chat_template,
    )
    config = Idefics3Config(
        vision_config={
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch_size,
            "initializer_range": 0.2,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
            "initializer_range": 0.2,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_id=processor.image_token_id,
        scale_factor=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Idefics3ForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path
