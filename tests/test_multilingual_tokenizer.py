"""Queries in Russian, German, Chinese... reach a multilingual model's tokenizer intact.

Multilingual models (the Multilingual preset, SigLIP i18n) use a Hugging Face
tokenizer, which normally comes from the hub. Hub files cannot be fetched here,
so the test builds a small tokenizer of the same kind (a `tokenizers` model
wrapped by transformers, saved as tokenizer.json) beside a checkpoint of a tiny
architecture configured like SigLIP i18n, and loads it through Glimpse's own
`ARCH:/path/to/checkpoint` code path, offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers", reason="multilingual models need transformers")
tokenizers = pytest.importorskip("tokenizers")

QUERIES = {
    "ru": "Собака бежит по пляжу",
    "de": "Hund läuft am Strand, Größe",
    "zh": "海滩上的狗",
    "fr": "chien sur la plage à côté",
    "en": "a dog on the beach",
}
ARCH = "GlimpseTinyI18n"


def _tiny_i18n_config(vocab_size: int) -> dict:
    return {
        "embed_dim": 32,
        "custom_text": True,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {
            "context_length": 16,
            "vocab_size": vocab_size,
            # Named like a hub repo that does not exist: only the local files can serve it.
            "hf_tokenizer_name": "glimpse-tests/no-such-repo",
            "tokenizer_kwargs": {"clean": "canonicalize"},
            "width": 32, "heads": 2, "layers": 1,
            "no_causal_mask": True, "proj_bias": True, "pool_type": "last",
        },
    }


@pytest.fixture
def i18n_checkpoint(tmp_path: Path) -> Path:
    import open_clip
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # A word-piece tokenizer trained on the queries' own words (lower-cased,
    # as SigLIP's canonicalize cleaning leaves them), plus an unknown token.
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"], vocab_size=500)
    tok.train_from_iterator([q.lower() for q in QUERIES.values()] * 5, trainer)
    model_dir = tmp_path / "i18n"
    model_dir.mkdir()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                            eos_token="[EOS]").save_pretrained(model_dir)

    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / f"{ARCH}.json").write_text(json.dumps(_tiny_i18n_config(tok.get_vocab_size())))
    open_clip.add_model_config(config_dir)
    torch.manual_seed(0)
    net = open_clip.create_model(ARCH, pretrained=None)
    checkpoint = model_dir / "open_clip_model.pt"
    torch.save(net.state_dict(), checkpoint)
    return checkpoint


def test_queries_in_other_scripts_reach_the_tokenizer_intact(i18n_checkpoint: Path) -> None:
    from glimpse.core.encoding.encoder import Encoder, ModelSpec

    enc = Encoder(ModelSpec(ARCH, checkpoint=i18n_checkpoint), device="cpu")
    hf = enc.tokenizer.tokenizer  # open_clip's HFTokenizer wraps the transformers tokenizer
    unk = hf.unk_token_id
    for lang, query in QUERIES.items():
        ids = enc.tokenizer([query])[0].tolist()
        words = [i for i in ids if i != hf.pad_token_id]
        assert words and unk not in words, f"{lang}: {query!r} became unknown tokens {ids}"
        decoded = hf.decode(words, skip_special_tokens=True).replace(" ##", "").replace("##", "")
        # canonicalize lower-cases and drops ASCII punctuation; letters of every script stay
        for word in query.lower().replace(",", "").split():
            assert word in decoded.replace(" ", "") or word in decoded, (lang, word, decoded)
    vectors = enc.encode_texts(list(QUERIES.values()))
    assert vectors.shape == (len(QUERIES), 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len({v.tobytes() for v in vectors}) == len(QUERIES)  # every language its own vector


def test_missing_tokenizer_says_which_files_to_put_beside_the_checkpoint(
    i18n_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glimpse.core.encoding import encoder as models
    from glimpse.core.errors import ModelLoadError

    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (i18n_checkpoint.parent / name).unlink(missing_ok=True)
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(ModelLoadError, match="tokenizer.json .* beside the checkpoint"):
        # The ONNX export of this model may already be cached (towers only: texts of a
        # Hugging Face tokenizer go through torch), so the error comes with the first text.
        models.Encoder(models.ModelSpec(ARCH, checkpoint=i18n_checkpoint), device="cpu").encode_texts(["a dog"])
